import { expect } from 'chai'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { SEGMENT_SIZE } from '../../../node/proofs/constants.ts'
import { buildLevels, createProof, hashLeaves, merkleRoot, rootOf, verifyProof } from '../../../node/proofs/merkle.ts'
import { TreeBuilder } from '../../../node/proofs/tree-builder.ts'
import { treeHashBackend, treeLevels } from '../../../node/proofs/tree-hash.ts'
import { blockOf, decodeStoredTree, encodeStoredTree, proveFromStoredTree, verifyBlock } from '../../../node/proofs/stored-tree.ts'

async function build (frag: Uint8Array, chunk: number, opts: ConstructorParameters<typeof TreeBuilder>[0] = {}) {
  const b = new TreeBuilder(opts)
  for (let o = 0; o < frag.length; o += chunk) await b.update(frag.subarray(o, o + chunk))
  return b.digest()
}

describe('proofs/tree-builder and stored trees', () => {
  it(`native and JS subtree hashing agree (backend here: ${treeHashBackend})`, async () => {
    for (const segs of [1, 5, 64, 1024]) {
      const d = randomBytes(segs * SEGMENT_SIZE)
      const a = await treeLevels(d, segs, 10, 0)
      const b = await treeLevels(d, segs, 10, 0, { js: true })
      expect(a.equals(b)).to.equal(true)
    }
  })

  it('every native hashing mode (4-lane SHA-NI, 2-lane SHA-NI, OpenSSL) gives the bytes of the JS fallback', function () {
    if (treeHashBackend !== 'native') this.skip()
    this.timeout(30000)
    // Deterministic data so the child processes hash the same bytes; odd counts exercise the lane tails.
    const script = `
      import { createHash } from 'node:crypto'
      import { treeLevelsSync } from ${JSON.stringify(new URL('../../../node/proofs/tree-hash.ts', import.meta.url).pathname)}
      const out = []
      for (const segs of [1, 2, 3, 5, 7, 64, 1000, 1024]) {
        const data = Buffer.alloc(segs * 256)
        for (let i = 0; i < data.length; i += 32) createHash('sha256').update(String(i)).digest().copy(data, i)
        out.push(treeLevelsSync(data, segs, 10, 0, { js: process.env.JS === '1' }).toString('hex'))
      }
      process.stdout.write(createHash('sha256').update(out.join()).digest('hex'))
    `
    const run = (env: Record<string, string>): string => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' })
      expect(r.status, r.stderr).to.equal(0)
      return r.stdout
    }
    const reference = run({ JS: '1' })
    expect(reference).to.have.length(64)
    expect(run({})).to.equal(reference)
    expect(run({ BITDUST_SHA_NI_2: '1' })).to.equal(reference)
    expect(run({ BITDUST_NO_SHA_NI: '1' })).to.equal(reference)
  })

  const cases: Array<[number, number, { storedFromLevel?: number, blockHeight?: number, js?: boolean }]> = [
    [1, 256, {}], [2, 100, {}], [3, 768, {}], [63, 4096, {}], [64, 5000, {}], [65, 16384, {}],
    [1024, 256 * 1024, {}], [1025, 7777, {}], [3000, 65536, {}], [4096 + 7, 1 << 20, {}],
    [300, 1000, { storedFromLevel: 2, blockHeight: 4 }], [300, 1000, { storedFromLevel: 2, blockHeight: 4, js: true }],
    // The fragment store hashes one 1 MiB stage per call (blockHeight 12).
    [17, 4096, { blockHeight: 12 }], [3 * 4096, 1 << 20, { blockHeight: 12 }], [2 * 4096 + 7, 65536 + 3, { blockHeight: 12 }],
  ]
  for (const [segs, chunk, opts] of cases) {
    it(`streams ${segs} segments in ${chunk}-byte chunks ${JSON.stringify(opts)} to the root of merkle.ts, and proves every sampled segment`, async () => {
      const frag = randomBytes(segs * SEGMENT_SIZE)
      const tree = await build(frag, chunk, opts)
      expect(tree.root.equals(Buffer.from(merkleRoot(frag)))).to.equal(true)
      const back = decodeStoredTree(encodeStoredTree(tree))
      const levels = buildLevels(hashLeaves(frag))
      expect(back.root.equals(Buffer.from(rootOf(levels)))).to.equal(true)
      const step = Math.max(1, Math.floor(segs / 40))
      for (let i = 0; i < segs; i += step) {
        const { first, count } = blockOf(back, i)
        const block = frag.subarray(first * SEGMENT_SIZE, (first + count) * SEGMENT_SIZE)
        const proof = proveFromStoredTree(back, i, block)
        const ref = createProof(frag, levels, i)
        expect(proof.path.map((p) => Buffer.from(p).toString('hex'))).to.deep.equal(ref.path.map((p) => Buffer.from(p).toString('hex')))
        expect(verifyProof(back.root, frag.length, proof)).to.equal(true)
      }
    })
  }

  it('detects a damaged block and a damaged tree file', async () => {
    const frag = randomBytes(200 * SEGMENT_SIZE)
    const tree = await build(frag, 65536)
    const { first, count } = blockOf(tree, 70)
    const block = Buffer.from(frag.subarray(first * SEGMENT_SIZE, (first + count) * SEGMENT_SIZE))
    verifyBlock(tree, first, block)
    block[5] = (block[5] as number) ^ 1
    expect(() => proveFromStoredTree(tree, 70, block)).to.throw().with.property('name', 'FragmentCorruptError')
    expect(() => verifyBlock(tree, first, block)).to.throw().with.property('name', 'FragmentCorruptError')
    const file = encodeStoredTree(tree)
    expect(() => decodeStoredTree(file.subarray(0, file.length - 1))).to.throw().with.property('name', 'TreeFileError')
    const v2 = Buffer.from(file); v2[4] = 2
    expect(() => decodeStoredTree(v2)).to.throw().with.property('name', 'TreeFileError')
    const badRoot = Buffer.from(file); badRoot[20] = (badRoot[20] as number) ^ 1
    expect(() => decodeStoredTree(badRoot)).to.throw().with.property('name', 'TreeFileError')
    const badLevel = Buffer.from(file); badLevel[48] = (badLevel[48] as number) ^ 1
    const t = decodeStoredTree(badLevel)
    const ok = frag.subarray(0, 64 * SEGMENT_SIZE)
    expect(() => proveFromStoredTree(t, 3, ok)).to.throw().with.property('name', 'FragmentCorruptError')
  })
})

describe('proofs/merkle treeDepth', () => {
  it('terminates and is right beyond 2^31 segments (a hostile size must not hang a decoder)', async () => {
    const { treeDepth } = await import('../../../node/proofs/merkle.ts')
    expect(treeDepth(2 ** 31 + 1)).to.equal(32)
    expect(treeDepth(2 ** 40)).to.equal(40)
  })
})
