import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { merkleRoot } from '../../../node/proofs/merkle.ts'
import { encodeFile } from '../../../node/storage/fragment-files.ts'
import { checkUnchanged, encodeFanOut, fileStamp, ShardQueue, type ReencodeParams } from '../../../node/storage/fanout.ts'
import { encodeFileTo, type EncodeResult, type FragmentSink } from '../../../node/storage/encode.ts'
import { consumed } from '../../../node/util/lent-buffers.ts'

async function collect (it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of it) parts.push(Buffer.from(c))
  return Buffer.concat(parts)
}

function paramsOf (r: EncodeResult): ReencodeParams {
  return { k: r.k, m: r.m, shardSize: r.shardSize, chunkSize: r.chunkSize, key: r.key, salt: r.salt }
}

describe('storage/fanout: a second encoding pass streamed to readers', function () {
  this.timeout(60_000)
  let dir: string
  let file: string
  let first: EncodeResult
  let fragments: Buffer[]

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bitdust-fanout-'))
    file = join(dir, 'file.bin')
    await writeFile(file, randomBytes(5 * 1024 * 1024 + 12345))
    first = await encodeFile(file, join(dir, 'frags'), { k: 4, m: 2, durable: false })
    fragments = await Promise.all(first.fragments.map(async (f) => await readFile(f.path as string)))
  })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('sinksKeepBytes: sinks may keep what they are given without copying; without it they may not', async () => {
    const keep = async (sinksKeepBytes: boolean): Promise<Buffer[]> => {
      const kept: Uint8Array[][] = Array.from({ length: 6 }, () => [])
      const sinkFor = (i: number): FragmentSink => ({ write: async (b) => { kept[i]?.push(b) }, close: async () => {}, abort: async () => {} })
      await encodeFileTo(file, sinkFor, { ...paramsOf(first), trees: false, sinksKeepBytes })
      return kept.map((parts) => Buffer.concat(parts))
    }
    const owned = await keep(true)
    owned.forEach((f, i) => expect(f.equals(fragments[i] as Buffer), `fragment ${i}`).to.equal(true))
    // The default reuses stripe buffers, so references kept past write() see later stripes.
    const reused = await keep(false)
    expect(reused.some((f, i) => !f.equals(fragments[i] as Buffer))).to.equal(true)
  })

  it('gives the same bytes as the first pass (same key and salt), whose roots they match', async () => {
    const pass = encodeFanOut(file, paramsOf(first), [0, 1, 2, 3, 4, 5])
    const got = await Promise.all([...pass.streams.values()].map(collect))
    await pass.done
    got.forEach((g, i) => {
      expect(g.equals(fragments[i] as Buffer), `fragment ${i}`).to.equal(true)
      expect(`0x${Buffer.from(merkleRoot(g)).toString('hex')}`).to.equal(first.roots[i])
    })
  })

  it('feeds only the fragments asked for; with trees, it gives the roots of all of them', async () => {
    for (const trees of [false, true]) {
      const pass = encodeFanOut(file, paramsOf(first), [1, 4], { trees })
      expect([...pass.streams.keys()]).to.deep.equal([1, 4])
      expect((await collect(pass.streams.get(4) as ShardQueue)).equals(fragments[4] as Buffer)).to.equal(true)
      expect((await collect(pass.streams.get(1) as ShardQueue)).equals(fragments[1] as Buffer)).to.equal(true)
      const roots = (await pass.done)?.roots
      if (trees) expect(roots).to.deep.equal(first.roots)
      else expect(roots).to.not.deep.equal(first.roots)
    }
  })

  it('a reader that gives up does not stall the others; when all give up the pass stops', async () => {
    const pass = encodeFanOut(file, paramsOf(first), [0, 1, 2])
    const quitter = (async () => { for await (const _ of pass.streams.get(1) as ShardQueue) break })()
    // Readers 0 and 2 read everything; reader 1 took one shard and left (its queue would fill).
    const [a, b] = await Promise.all([collect(pass.streams.get(0) as ShardQueue), collect(pass.streams.get(2) as ShardQueue), quitter])
    expect(a.equals(fragments[0] as Buffer) && (b as Buffer).equals(fragments[2] as Buffer)).to.equal(true)
    expect(await pass.done).to.not.equal(undefined)

    const abandoned = encodeFanOut(file, paramsOf(first), [0, 1])
    for (const q of abandoned.streams.values()) q.detach()
    expect(await abandoned.done).to.equal(undefined) // stopped early, not an error
  })

  it('an encoder that fails (the file shrank) fails every reader and the pass', async () => {
    const big = join(dir, 'big.bin')
    await writeFile(big, randomBytes(40 * 1024 * 1024))
    const r = await encodeFile(big, join(dir, 'big'), { k: 4, m: 2, durable: false })
    const pass = encodeFanOut(big, paramsOf(r), [0, 5])
    const it = (pass.streams.get(0) as ShardQueue)[Symbol.asyncIterator]()
    await it.next() // the pass has started; the queues hold it well short of the end of the file
    await truncate(big, 1024 * 1024)
    for (const q of [{ [Symbol.asyncIterator]: () => it }, pass.streams.get(5) as ShardQueue]) {
      try {
        await collect(q)
        expect.fail('should fail')
      } catch (err) {
        expect((err as Error).message).to.match(/shrank/)
      }
    }
    try {
      await pass.done
      expect.fail('should fail')
    } catch (err) {
      expect((err as Error).message).to.match(/shrank/)
    }
  })

  it('a pass over a file that is gone fails every reader instead of leaving it waiting', async () => {
    await rm(file)
    const pass = encodeFanOut(file, paramsOf(first), [0, 3], { trees: true })
    for (const q of pass.streams.values()) {
      try {
        await collect(q)
        expect.fail('should fail')
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).to.equal('ENOENT')
      }
    }
    try {
      await pass.done
      expect.fail('should fail')
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).to.equal('ENOENT')
    }
  })

  it('reuses a stripe\'s memory once every reader has consumed its shard, and only then', async () => {
    // Many more stripes than a stream queues, so the encoder must wait for its readers and the
    // number of stripes alive at once is bounded whatever the timing (~20 here, of 97).
    const big = join(dir, 'big.bin')
    await writeFile(big, randomBytes(96 * 1024 * 1024))
    const ref = await encodeFile(big, join(dir, 'big'), { k: 4, m: 2, durable: false })
    const refFragments = await Promise.all(ref.fragments.map(async (f) => await readFile(f.path as string)))
    const stripes = Math.ceil(ref.contentSize / (ref.k * ref.shardSize))
    /** Reads every stream, copying each shard and reporting it consumed as noise would; counts the memory seen. */
    const run = async (consume: 'all' | 'not fragment 5'): Promise<{ bytes: Buffer[], memories: number, roots: string[] | undefined }> => {
      const pass = encodeFanOut(big, paramsOf(ref), [0, 1, 2, 3, 4, 5], { trees: true })
      const memories = new Set<ArrayBufferLike>()
      const bytes = await Promise.all([...pass.streams.entries()].map(async ([i, q]) => {
        const parts: Buffer[] = []
        for await (const shard of q) {
          memories.add(shard.buffer)
          parts.push(Buffer.from(shard))
          await new Promise((resolve) => setImmediate(resolve))
          if (consume === 'all' || i !== 5) consumed(shard)
        }
        return Buffer.concat(parts)
      }))
      return { bytes, memories: memories.size, roots: (await pass.done)?.roots }
    }
    for (const consume of ['all', 'not fragment 5'] as const) {
      const { bytes, memories, roots } = await run(consume)
      // Reused memory never changed a shard under its reader, nor under the tree hashing.
      bytes.forEach((b, i) => expect(b.equals(refFragments[i] as Buffer), `${consume}: fragment ${i}`).to.equal(true))
      expect(roots).to.deep.equal(ref.roots)
      // Fresh buffers would be two per stripe (data, parity).
      if (consume === 'all') expect(memories).to.be.lessThan(stripes)
      // A parity buffer whose shard 5 is never consumed is never reused; the data buffers are.
      else expect(memories).to.be.within(stripes + 2, stripes + stripes / 2)
    }
  })

  it('tells a file that changed since its first pass', async () => {
    const stamp = await fileStamp(file)
    await checkUnchanged(file, stamp)
    await utimes(file, new Date(), new Date(Date.now() + 5000))
    for (const change of [async () => {}, async () => { await rm(file) }]) {
      await change()
      try {
        await checkUnchanged(file, stamp)
        expect.fail('should fail')
      } catch (err) {
        expect((err as Error).name).to.equal('FileChangedError')
        expect((err as Error).message).to.match(/Upload it again/)
      }
    }
  })

  it('a queue holds a bounded number of shards: the writer waits for the reader', async () => {
    const q = new ShardQueue(2)
    let written = 0
    const writer = (async () => { for (let i = 0; i < 5; i++) { await q.write(Buffer.alloc(4, i)); written++ } await q.close() })()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(written).to.equal(2)
    const got = await collect(q)
    await writer
    expect([...got]).to.deep.equal([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4])
  })
})
