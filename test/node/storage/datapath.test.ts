import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { merkleRoot } from '../../../node/proofs/merkle.ts'
import { decodeStoredTree, proveFromStoredTree, blockOf } from '../../../node/proofs/stored-tree.ts'
import { verifyProof } from '../../../node/proofs/merkle.ts'
import { SEGMENT_SIZE } from '../../../node/proofs/constants.ts'
import { encodeStream } from '../../../node/storage/encode.ts'
import { decodeFile, decodeStream, type FragmentSource } from '../../../node/storage/decode.ts'
import { nativeAddon } from '../../../node/util/native.ts'
import { directorySources, encodeFile, fragmentPath } from '../../../node/storage/fragment-files.ts'
import { memorySink, memorySource, type MemoryFragment } from '../../../node/storage/memory.ts'

const SHARD = 4096 // small shards: many stripes from small files

async function collect (it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const p of it) parts.push(Buffer.from(p))
  return Buffer.concat(parts)
}

function combos (n: number, r: number): number[][] {
  if (r === 0) return [[]]
  if (n < r) return []
  return [...combos(n - 1, r - 1).map((c) => [...c, n - 1]), ...combos(n - 1, r)]
}

describe('storage/datapath: encode and decode', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'bitdust-dp-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  for (const [size, k, m] of [[0, 4, 2], [1, 4, 2], [16384 - 48 - 16, 4, 2], [100_000, 4, 2], [100_000, 10, 4], [250_001, 3, 1]] as const) {
    it(`${size} bytes, ${k}+${m}: fragments on disk with their trees, roots as merkle.ts, restored from the data fragments`, async () => {
      const input = join(dir, 'in.bin')
      const plain = randomBytes(size)
      await writeFile(input, plain)
      const events: string[] = []
      const enc = await encodeFile(input, join(dir, 'frags'), { k, m, shardSize: SHARD, chunkSize: 8192, onProgress: (e) => events.push(e.type) })
      expect(enc.fragments).to.have.length(k + m)
      expect(events[0]).to.equal('encode:start')
      expect(events.at(-1)).to.equal('encode:done')
      for (const f of enc.fragments) {
        const bytes = await readFile(f.path!)
        expect(bytes.length).to.equal(enc.fragmentSize)
        expect(bytes.length % SEGMENT_SIZE).to.equal(0)
        expect(f.root).to.equal('0x' + Buffer.from(merkleRoot(bytes)).toString('hex'))
        const tree = decodeStoredTree(await readFile(f.treePath!))
        const i = Math.floor(tree.segments / 2)
        const { first, count } = blockOf(tree, i)
        const proof = proveFromStoredTree(tree, i, bytes.subarray(first * SEGMENT_SIZE, (first + count) * SEGMENT_SIZE))
        expect(verifyProof(Buffer.from(f.root.slice(2), 'hex'), bytes.length, proof)).to.equal(true)
      }
      expect((await readdir(join(dir, 'frags'))).filter((n) => n.endsWith('.part'))).to.deep.equal([])
      const out = join(dir, 'out.bin')
      const r = await decodeFile(directorySources(join(dir, 'frags'), [...Array(k + m).keys()]), enc, enc.key, out)
      expect(r.used).to.deep.equal([...Array(k).keys()])
      expect((await readFile(out)).equals(plain)).to.equal(true)
    })
  }

  it('4+2: restores from every set of 4 fragments', async function () {
    this.timeout(30000)
    const plain = randomBytes(70_000)
    const frags: MemoryFragment[] = []
    const enc = await encodeStream([plain], plain.length, (i) => memorySink(frags, i), { k: 4, m: 2, shardSize: SHARD, chunkSize: 5000 })
    for (const set of combos(6, 4)) {
      const back = await collect(decodeStream(set.map((i) => memorySource(i, frags[i]!.bytes, 3000)), enc, enc.key))
      expect(back.equals(plain), `set ${set.join(',')}`).to.equal(true)
    }
  })

  it('excludes a corrupted data fragment (detected by its root), retries with parity, and reports it', async () => {
    const input = join(dir, 'in.bin')
    const plain = randomBytes(200_000)
    await writeFile(input, plain)
    const enc = await encodeFile(input, join(dir, 'frags'), { k: 4, m: 2, shardSize: SHARD })
    const p1 = fragmentPath(join(dir, 'frags'), 1)
    const bytes = await readFile(p1)
    bytes[12345] = (bytes[12345] as number) ^ 0x40
    await writeFile(p1, bytes)
    const rejected: number[] = []
    const out = join(dir, 'out.bin')
    const r = await decodeFile(directorySources(join(dir, 'frags'), [0, 1, 2, 3, 4, 5]), enc, enc.key, out, {
      onProgress: (e) => { if (e.type === 'decode:rejected') rejected.push(e.index) },
    })
    expect(rejected).to.deep.equal([1])
    expect(r.rejected.map((x) => x.index)).to.deep.equal([1])
    expect(r.used).to.deep.equal([0, 2, 3, 4])
    expect((await readFile(out)).equals(plain)).to.equal(true)
  })

  it('excludes a truncated fragment and one that fails to read', async () => {
    const plain = randomBytes(50_000)
    const frags: MemoryFragment[] = []
    const enc = await encodeStream([plain], plain.length, (i) => memorySink(frags, i), { k: 2, m: 2, shardSize: SHARD })
    const failing: FragmentSource = { index: 1, async * open () { yield frags[1]!.bytes.subarray(0, 100); throw new Error('peer went away') } }
    const sources = [memorySource(0, frags[0]!.bytes.subarray(0, enc.fragmentSize - 256)), failing, memorySource(2, frags[2]!.bytes), memorySource(3, frags[3]!.bytes)]
    const out = join(dir, 'out.bin')
    const r = await decodeFile(sources, enc, enc.key, out)
    expect(r.rejected.map((x) => x.index).sort()).to.deep.equal([0, 1])
    expect((await readFile(out)).equals(plain)).to.equal(true)
  })

  it('fewer than k good fragments: NotEnoughFragmentsError says how many are missing, and no output is left', async () => {
    const plain = randomBytes(50_000)
    const frags: MemoryFragment[] = []
    const enc = await encodeStream([plain], plain.length, (i) => memorySink(frags, i), { k: 4, m: 2, shardSize: SHARD })
    const bad = Buffer.from(frags[4]!.bytes); bad[0] = (bad[0] as number) ^ 1
    const out = join(dir, 'out.bin')
    for (const [sources, missing] of [
      [[memorySource(0, frags[0]!.bytes), memorySource(1, frags[1]!.bytes)], 2],
      [[memorySource(0, frags[0]!.bytes), memorySource(1, frags[1]!.bytes), memorySource(2, frags[2]!.bytes), memorySource(4, bad)], 1],
    ] as const) {
      try {
        await decodeFile([...sources], enc, enc.key, out)
        expect.fail('decoded from too few fragments')
      } catch (err) {
        expect(err).to.have.property('name', 'NotEnoughFragmentsError')
        expect((err as Error).message).to.include(`${missing} more missing`)
      }
    }
    expect(await readdir(dir)).to.deep.equal([])
  })

  it('a wrong key: DecryptionError and no partial plaintext at the output path', async () => {
    const plain = randomBytes(300_000)
    const frags: MemoryFragment[] = []
    const enc = await encodeStream([plain], plain.length, (i) => memorySink(frags, i), { k: 4, m: 2, shardSize: SHARD, chunkSize: 4096 })
    try {
      await decodeFile(frags.map((f, i) => memorySource(i, f.bytes)), enc, randomBytes(32), join(dir, 'out.bin'))
      expect.fail('decoded with a wrong key')
    } catch (err) {
      expect(err).to.have.property('name', 'DecryptionError')
    }
    expect(await readdir(dir)).to.deep.equal([])
  })

  it('rejects unknown fragment format versions and codecs with typed errors', async () => {
    const frags: MemoryFragment[] = []
    const enc = await encodeStream([Buffer.from('hi')], 2, (i) => memorySink(frags, i), { k: 2, m: 1, shardSize: SHARD })
    const out = join(dir, 'out.bin')
    await decodeFile([], { ...enc, format: 2 }, enc.key, out).then(() => expect.fail(), (err) => expect(err).to.have.property('name', 'UnsupportedVersionError'))
    await decodeFile([], { ...enc, codec: 'other' }, enc.key, out).then(() => expect.fail(), (err) => expect(err).to.have.property('name', 'InvalidFragmentError'))
  })

  it('an aborted encode leaves no fragment files behind', async () => {
    const input = join(dir, 'in.bin')
    await writeFile(input, randomBytes(500_000))
    const ac = new AbortController()
    try {
      await encodeFile(input, join(dir, 'frags'), { k: 4, m: 2, shardSize: SHARD, chunkSize: 4096, signal: ac.signal, onProgress: (e) => { if (e.type === 'encode:progress') ac.abort() } })
      expect.fail('not aborted')
    } catch (err) {
      expect(err).to.have.property('name', 'AbortError')
    }
    expect(await readdir(join(dir, 'frags'))).to.deep.equal([])
  })
})

describe('storage/datapath: disk full', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'bitdust-dpfull-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })
  const enospc = (limit: number) => {
    let written = 0
    return async (fh: import('node:fs/promises').FileHandle, data: Uint8Array, offset: number, length: number, position?: number) => {
      if (written + length > limit) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
      written += length
      return fh.write(data, offset, length, position)
    }
  }

  it('encodeFile: DiskFullError, and no fragment or temp file remains', async () => {
    const input = join(dir, 'in.bin')
    await writeFile(input, randomBytes(200_000))
    try {
      await encodeFile(input, join(dir, 'frags'), { k: 4, m: 2, shardSize: SHARD, write: enospc(100_000) })
      expect.fail('wrote past a full disk')
    } catch (err) {
      expect(err).to.have.property('name', 'DiskFullError')
      expect((err as Error).message).to.match(/is full/)
    }
    expect(await readdir(join(dir, 'frags'))).to.deep.equal([])
  })

  it('decodeFile: DiskFullError, and no partial output remains', async () => {
    const plain = randomBytes(200_000)
    const frags: MemoryFragment[] = []
    const enc = await encodeStream([plain], plain.length, (i) => memorySink(frags, i), { k: 4, m: 2, shardSize: SHARD })
    try {
      await decodeFile(frags.map((f, i) => memorySource(i, f.bytes)), enc, enc.key, join(dir, 'out.bin'), { write: enospc(50_000) })
      expect.fail('wrote past a full disk')
    } catch (err) {
      expect(err).to.have.property('name', 'DiskFullError')
    }
    expect(await readdir(dir)).to.deep.equal([])
  })
})

describe('storage/datapath: abort', () => {
  it('an aborted decode leaves no output', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bitdust-dpabort-'))
    try {
      const plain = randomBytes(300_000)
      const frags: MemoryFragment[] = []
      const enc = await encodeStream([plain], plain.length, (i) => memorySink(frags, i), { k: 4, m: 2, shardSize: SHARD, chunkSize: 4096 })
      const ac = new AbortController()
      try {
        await decodeFile(frags.map((f, i) => memorySource(i, f.bytes)), enc, enc.key, join(dir, 'out.bin'), {
          signal: ac.signal,
          onProgress: (e) => { if (e.type === 'decode:progress') ac.abort() },
        })
        expect.fail('not aborted')
      } catch (err) {
        expect(err).to.have.property('name', 'AbortError')
      }
      expect(await readdir(dir)).to.deep.equal([])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('storage/datapath: decoding in place', () => {
  /** Each piece a fresh copy the decoder may overwrite, as off the network; `given` keeps them. */
  function givingSource (index: number, bytes: Uint8Array, given: Buffer[], chunk = 50_000): FragmentSource {
    return {
      index,
      givesUpPieces: true,
      async * open () {
        for (let o = 0; o < bytes.length; o += chunk) {
          const piece = Buffer.from(bytes.subarray(o, o + chunk))
          given.push(piece)
          yield piece
        }
      },
    }
  }

  it('decrypts pieces the sources give up where they lie, and still names a damaged fragment', async () => {
    // Whole 256 KiB shards: the tree hashes each where it lies, off the main thread, so an
    // overwrite before the hashing is done would change the root.
    const shardSize = 256 * 1024
    const plain = randomBytes(3 * 4 * shardSize)
    const frags: MemoryFragment[] = []
    const enc = await encodeStream([plain], plain.length, (i) => memorySink(frags, i), { k: 4, m: 2, shardSize })
    const given: Buffer[] = []
    const back: Buffer[] = []
    for await (const p of decodeStream([0, 1, 2, 3].map((i) => givingSource(i, frags[i]!.bytes, given, shardSize)), enc, enc.key)) back.push(Buffer.from(p))
    expect(Buffer.concat(back).equals(plain)).to.equal(true)
    // The ciphertext the sources handed over now holds plaintext (with the addon; else untouched).
    const ciphertext = Buffer.concat([0, 1, 2, 3].map((i) => frags[i]!.bytes))
    const overwritten = given.some((g) => !ciphertext.includes(g.subarray(0, 64)))
    expect(overwritten).to.equal(nativeAddon?.aeadOpen !== undefined)

    // Every fragment is hashed before its bytes are overwritten: a damaged one is still the one named.
    const bad = Buffer.from(frags[1]!.bytes)
    bad[shardSize * 2 + 3] = (bad[shardSize * 2 + 3] as number) ^ 1
    const err = await (async () => { for await (const _ of decodeStream([0, 1, 2, 3].map((i) => givingSource(i, i === 1 ? bad : frags[i]!.bytes, [], shardSize)), enc, enc.key)) { /* drain */ } })().then(() => undefined, (e: unknown) => e as Error & { rejected?: Array<{ index: number }> })
    expect(err?.name).to.equal('FragmentsRejectedError')
    expect(err?.rejected?.map((r) => r.index)).to.deep.equal([1])
  })
})

describe('storage/datapath: streaming decode', () => {
  it('names a damaged fragment with FragmentsRejectedError; what it yielded before is a true prefix', async () => {
    const plain = randomBytes(200_000)
    const frags: MemoryFragment[] = []
    const enc = await encodeStream([plain], plain.length, (i) => memorySink(frags, i), { k: 4, m: 2, shardSize: SHARD, chunkSize: 4096 })
    const bad = Buffer.from(frags[2]!.bytes)
    bad[SHARD * 5 + 10] = (bad[SHARD * 5 + 10] as number) ^ 1
    const got: Buffer[] = []
    try {
      for await (const p of decodeStream([0, 1, 2, 3].map((i) => memorySource(i, i === 2 ? bad : frags[i]!.bytes)), enc, enc.key)) got.push(p)
      expect.fail('decoded a damaged fragment')
    } catch (err) {
      expect(err).to.have.property('name', 'FragmentsRejectedError')
      expect((err as { rejected: Array<{ index: number }> }).rejected.map((r) => r.index)).to.deep.equal([2])
    }
    const prefix = Buffer.concat(got)
    expect(prefix.length).to.be.greaterThan(0)
    expect(prefix.equals(plain.subarray(0, prefix.length))).to.equal(true)
    // Without the damaged fragment the stream decodes in full.
    const back: Buffer[] = []
    for await (const p of decodeStream([0, 1, 3, 4].map((i) => memorySource(i, frags[i]!.bytes)), enc, enc.key)) back.push(p)
    expect(Buffer.concat(back).equals(plain)).to.equal(true)
  })
})
