import { expect } from 'chai'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { mkdtemp, open as openFile, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { ROOT_LATER, SEGMENT_SIZE } from '../../../node/proofs/constants.ts'
import { merkleRoot, verifyProof } from '../../../node/proofs/merkle.ts'
import { AlignedPool, DIRECT_ALIGN, supportsDirectIo } from '../../../node/storage/direct-io.ts'
import { fragmentStore, type FragmentMeta, type FragmentStore } from '../../../node/storage/fragment-store/index.ts'
import { DiskFragmentStore } from '../../../node/storage/fragment-store/store.ts'
import { consumed, lentStats } from '../../../node/util/lent-buffers.ts'

const DEAL = `0x${'11'.repeat(32)}`
const OWNER = `0x${'22'.repeat(20)}`

function metaFor (bytes: Uint8Array, slot = 0, dealId = DEAL): FragmentMeta {
  return { dealId, slot, size: bytes.length, root: `0x${Buffer.from(merkleRoot(bytes)).toString('hex')}`, owner: OWNER }
}

async function * chunks (bytes: Uint8Array, size = 10_000): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < bytes.length; o += size) yield bytes.subarray(o, o + size)
}

async function collect (it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const p of it) parts.push(Buffer.from(p))
  return Buffer.concat(parts)
}

async function rejects (p: Promise<unknown>, name: string): Promise<Error> {
  try {
    await p
  } catch (err) {
    expect(err).to.have.property('name', name)
    return err as Error
  }
  expect.fail(`expected ${name}`)
}

describe('storage/fragment-store', () => {
  let dir: string
  let db: Level<string, string>
  let store: FragmentStore
  const open = async (init: Partial<Parameters<typeof fragmentStore>[0]> = {}): Promise<FragmentStore> => {
    const s = fragmentStore({ dir: join(dir, 'fragments'), quota: 10 * 1024 * 1024, ...init })({ db: db.sublevel<string, string>('storage', {}) })
    await s.start()
    return s
  }

  /** A started DiskFragmentStore in `<dir>/<name>`, its metadata in a sublevel of the same name. */
  const diskStore = async (name: string, init: Partial<Parameters<typeof fragmentStore>[0]> = {}): Promise<DiskFragmentStore> => {
    const s = new DiskFragmentStore({ dir: join(dir, name), quota: 1e9, ...init }, { db: db.sublevel<string, string>(name, {}) })
    await s.start()
    return s
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bitdust-store-'))
    db = new Level<string, string>(join(dir, 'db'))
    await db.open()
    store = await open()
  })
  afterEach(async () => {
    await store.stop()
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('stores a fragment atomically, reads ranges back verified, and proves segments from its stored tree', async () => {
    const frag = randomBytes(300 * SEGMENT_SIZE)
    const meta = metaFor(frag, 3)
    const stored = await store.put(meta, chunks(frag))
    expect(stored).to.include({ dealId: DEAL, slot: 3, size: frag.length })
    expect(await store.has(DEAL, 3)).to.equal(true)
    expect((await store.list(OWNER)).map((f) => f.slot)).to.deep.equal([3])
    expect(await store.list(`0x${'33'.repeat(20)}`)).to.deep.equal([])
    expect(store.usage().used).to.be.greaterThan(frag.length)
    expect((await collect(store.read(DEAL, 3, 0, frag.length))).equals(frag)).to.equal(true)
    for (const [o, l] of [[1, 1], [16383, 2], [20000, 40000], [frag.length - 5, 5], [0, 0]]) {
      expect((await collect(store.read(DEAL, 3, o as number, l as number))).equals(frag.subarray(o, (o as number) + (l as number)))).to.equal(true)
    }
    const root = Buffer.from(meta.root.slice(2), 'hex')
    for (const i of [0, 63, 64, 150, 299]) {
      const proof = await store.proof(DEAL, 3, i)
      expect(verifyProof(root, frag.length, proof)).to.equal(true)
    }
    const paths = await store.paths(DEAL, 3, 10, 3)
    expect(paths).to.have.length(3)
    expect((await readdir(join(dir, 'fragments'))).sort()).to.deep.equal([`${DEAL}-3.frag`, `${DEAL}-3.tree`])
  })

  it('refuses a fragment whose root does not match, leaving nothing behind', async () => {
    const frag = randomBytes(64 * SEGMENT_SIZE)
    const meta = { ...metaFor(frag), root: `0x${'ab'.repeat(32)}` }
    await rejects(store.put(meta, chunks(frag)), 'FragmentRootMismatchError')
    expect(await readdir(join(dir, 'fragments'))).to.deep.equal([])
    expect(await store.list()).to.deep.equal([])
    expect(store.usage().used).to.equal(0)
  })

  it('a fragment sent before its root is known is kept under the root it hashes to, only once that root is confirmed', async () => {
    const bytes = randomBytes(64 * SEGMENT_SIZE + 3 * 4096)
    const meta = metaFor(bytes)
    await rejects(store.accept({ ...meta, root: ROOT_LATER }, chunks(bytes)), 'InvalidFragmentError')
    await rejects(store.accept({ ...meta, root: ROOT_LATER }, chunks(bytes), { confirm: async () => { throw new Error('the deal did not open') } }), 'Error')
    expect(await readdir(join(dir, 'fragments'))).to.deep.equal([])
    expect(store.usage().used).to.equal(0)
    const confirmed: string[] = []
    const stored = await store.accept({ ...meta, root: ROOT_LATER }, chunks(bytes), { confirm: async (root) => { confirmed.push(root) } })
    expect(confirmed).to.deep.equal([meta.root])
    expect(stored.root).to.equal(meta.root)
    expect((await store.stat(DEAL, 0)).root).to.equal(meta.root)
    expect((await collect(store.read(DEAL, 0, 0, bytes.length))).equals(bytes)).to.equal(true)
    expect(verifyProof(merkleRoot(bytes), bytes.length, await store.proof(DEAL, 0, 5))).to.equal(true)
  })

  it('refuses too many or too few bytes and duplicates', async () => {
    const frag = randomBytes(8 * SEGMENT_SIZE)
    await rejects(store.put(metaFor(frag), chunks(Buffer.concat([frag, Buffer.alloc(256)]))), 'FragmentSizeMismatchError')
    await rejects(store.put(metaFor(frag), chunks(frag.subarray(0, 1000))), 'FragmentSizeMismatchError')
    expect(await readdir(join(dir, 'fragments'))).to.deep.equal([])
    await store.put(metaFor(frag), chunks(frag))
    await rejects(store.put(metaFor(frag), chunks(frag)), 'FragmentExistsError')
    await rejects(store.put({ ...metaFor(frag), size: 100 }, chunks(frag)), 'InvalidFragmentError')
  })

  it('over quota: QuotaExceededError before a byte is read, nothing written', async () => {
    const small = await open({ quota: 100_000 })
    let pulled = false
    async function * src (): AsyncGenerator<Uint8Array> { pulled = true; yield new Uint8Array(0) }
    const frag = randomBytes(512 * SEGMENT_SIZE)
    const err = await rejects(small.put(metaFor(frag, 1), src()), 'QuotaExceededError')
    expect(err.message).to.match(/donated space/)
    expect(pulled).to.equal(false)
    expect(await readdir(join(dir, 'fragments'))).to.deep.equal([])
  })

  it('disk full (ENOSPC mid-write): DiskFullError and nothing half-written remains', async () => {
    let written = 0
    const full = await open({
      write: async (fh, data, offset, length) => {
        if (written + length > 20_000) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
        written += length
        return fh.write(data, offset, length)
      },
    })
    const frag = randomBytes(200 * SEGMENT_SIZE)
    const err = await rejects(full.put(metaFor(frag, 2), chunks(frag)), 'DiskFullError')
    expect(err.message).to.match(/disk .* is full/)
    expect(await readdir(join(dir, 'fragments'))).to.deep.equal([])
    expect(await full.list()).to.deep.equal([])
    expect(full.usage().used).to.equal(0)
  })

  it('an aborted upload leaves nothing behind', async () => {
    const ac = new AbortController()
    const frag = randomBytes(200 * SEGMENT_SIZE)
    async function * src (): AsyncGenerator<Uint8Array> { yield frag.subarray(0, 1000); ac.abort(); yield frag.subarray(1000) }
    await rejects(store.put(metaFor(frag), src(), { signal: ac.signal }), 'AbortError')
    expect(await readdir(join(dir, 'fragments'))).to.deep.equal([])
  })

  it('reads a many-step fragment with read-ahead: whole, across steps, stopped early, damaged late', async () => {
    const frag = randomBytes(14 * 1024 * SEGMENT_SIZE + 37 * SEGMENT_SIZE) // 3.5 MiB and a bit: four 1 MiB steps
    await store.put(metaFor(frag), chunks(frag))
    expect((await collect(store.read(DEAL, 0, 0, frag.length))).equals(frag)).to.equal(true)
    const o = (1 << 20) - 100
    expect((await collect(store.read(DEAL, 0, o, 2 * (1 << 20)))).equals(frag.subarray(o, o + 2 * (1 << 20)))).to.equal(true)
    for await (const _ of store.read(DEAL, 0, 0, frag.length)) break // the read-ahead settles, the file closes
    const path = join(dir, 'fragments', `${DEAL}-0.frag`)
    const bytes = await readFile(path)
    bytes[3 * (1 << 20) + 5] = (bytes[3 * (1 << 20) + 5] as number) ^ 1
    await writeFile(path, bytes)
    let good = 0
    await rejects((async () => { for await (const c of store.read(DEAL, 0, 0, frag.length)) good += c.length })(), 'FragmentCorruptError')
    expect(good).to.equal(3 * (1 << 20))
  })

  it('lends its aligned read buffers to a caller that only sends them on, and takes them back once consumed', async function () {
    const s = await diskStore('lend')
    if (s.writeMode !== 'direct') this.skip() // lending is for O_DIRECT reads only
    const frag = randomBytes(3 * 1024 * 1024 + 64 * SEGMENT_SIZE)
    await s.put(metaFor(frag), chunks(frag, 65_536))
    const lent = lentStats.lent
    const returned = lentStats.returned
    const got: Buffer[] = []
    for await (const piece of s.read(DEAL, 0, 0, frag.length, { lend: true })) {
      // The store's own page-aligned memory, not a copy.
      expect(piece.byteOffset % DIRECT_ALIGN).to.equal(0)
      got.push(Buffer.from(piece))
      consumed(piece) // what the network does once it has encrypted the bytes
    }
    expect(Buffer.concat(got).equals(frag)).to.equal(true)
    expect(lentStats.lent - lent).to.equal(4)
    expect(lentStats.returned - returned).to.equal(4)
    // A range read and a read abandoned half-way lose nothing either.
    expect((await collect(s.read(DEAL, 0, 5000 * SEGMENT_SIZE, 300 * SEGMENT_SIZE, { lend: true }))).equals(frag.subarray(5000 * SEGMENT_SIZE, 5300 * SEGMENT_SIZE))).to.equal(true)
    for await (const piece of s.read(DEAL, 0, 0, frag.length, { lend: true })) { expect(piece.length).to.equal(1024 * 1024); break }
    // Without lend a caller keeps copies that nothing else touches.
    const kept = await collect(s.read(DEAL, 0, 0, frag.length))
    expect(kept.equals(frag)).to.equal(true)
    await s.stop()
  })

  it('writes with O_DIRECT where the filesystem takes it, byte-exact for sizes that end mid-block, and buffered when told not to', async () => {
    const direct = await supportsDirectIo(dir)
    const sizes = [1, 17, 4096 + 1, 2 * 4096 + 7, 14 * 1024 + 1].map((n) => n * SEGMENT_SIZE) // 256 B .. 3.5 MiB + 256 B
    for (const directIo of [true, false]) {
      const sub = join(dir, `mode-${String(directIo)}`)
      const s = await diskStore(`mode-${String(directIo)}`, { directIo })
      expect(s.writeMode).to.equal(directIo && direct ? 'direct' : 'buffered')
      for (const [slot, size] of sizes.entries()) {
        const frag = randomBytes(size)
        await s.put(metaFor(frag, slot), chunks(frag, 65_536 + 3))
        const path = join(sub, `${DEAL}-${slot}.frag`)
        expect((await stat(path)).size).to.equal(size)
        expect((await readFile(path)).equals(frag)).to.equal(true)
        expect((await collect(s.read(DEAL, slot, 0, size))).equals(frag)).to.equal(true)
        expect(verifyProof(Buffer.from(metaFor(frag).root.slice(2), 'hex'), size, await s.proof(DEAL, slot, size / SEGMENT_SIZE - 1))).to.equal(true)
      }
      await s.stop()
    }
  })

  it('an O_DIRECT write or read the filesystem refuses (EINVAL) goes on buffered, losing nothing', async function () {
    if (!await supportsDirectIo(dir)) this.skip()
    const einval = (): Error => Object.assign(new Error('invalid argument'), { code: 'EINVAL' })
    let writes = 0
    // The second 1 MiB write is refused: part of the file is already on disk through O_DIRECT.
    const w = await diskStore('w', { write: async (fh, data, offset, length, position) => { if (++writes === 2) throw einval(); return fh.write(data, offset, length, position) } })
    expect(w.writeMode).to.equal('direct')
    const frag = randomBytes(10 * 1024 * SEGMENT_SIZE + SEGMENT_SIZE) // 2.5 MiB and a segment
    await w.put(metaFor(frag), chunks(frag, 65_536))
    expect(w.writeMode).to.equal('buffered')
    expect((await readFile(join(dir, 'w', `${DEAL}-0.frag`))).equals(frag)).to.equal(true)
    expect((await collect(w.read(DEAL, 0, 0, frag.length))).equals(frag)).to.equal(true)
    await w.stop()

    let reads = 0
    const r = await diskStore('w', { read: async (fh, buffer, offset, length, position) => { if (++reads === 1) throw einval(); return fh.read(buffer, offset, length, position) } })
    expect(r.writeMode).to.equal('direct')
    expect((await collect(r.read(DEAL, 0, 0, frag.length))).equals(frag)).to.equal(true)
    expect(reads).to.be.greaterThan(1)
    expect(r.writeMode).to.equal('buffered')
    await r.stop()
  })

  it('AlignedPool hands out distinct page-aligned buffers and reuses those given back', async function () {
    expect(() => new AlignedPool(1000)).to.throw(RangeError)
    const pool = new AlignedPool(2 * DIRECT_ALIGN, 4, 8)
    const taken = Array.from({ length: 6 }, () => pool.take()) // more than one memory's worth
    taken.forEach((b, i) => b.fill(i))
    taken.forEach((b, i) => { expect(b.length).to.equal(2 * DIRECT_ALIGN); expect(b.every((x) => x === i)).to.equal(true) })
    pool.give(taken[5] as Buffer)
    expect(pool.take()).to.equal(taken[5])
    // The kernel refuses O_DIRECT from a misaligned address (EINVAL), so a write from each proves alignment.
    if (!await supportsDirectIo(dir)) this.skip()
    const fh = await openFile(join(dir, 'aligned'), constants.O_WRONLY | constants.O_CREAT | (constants as { O_DIRECT?: number }).O_DIRECT!, 0o600)
    try {
      for (const [i, b] of taken.entries()) expect((await fh.write(b, 0, b.length, i * b.length)).bytesWritten).to.equal(b.length)
      const misaligned = Buffer.concat([Buffer.alloc(1), taken[0] as Buffer]).subarray(1)
      let code: string | undefined
      try { await fh.write(misaligned, 0, DIRECT_ALIGN, 0) } catch (err) { code = (err as NodeJS.ErrnoException).code }
      expect(code).to.equal('EINVAL')
    } finally {
      await fh.close()
    }
  })

  it('detects a fragment damaged on disk on read and on proof', async () => {
    const frag = randomBytes(200 * SEGMENT_SIZE)
    await store.put(metaFor(frag), chunks(frag))
    const path = join(dir, 'fragments', `${DEAL}-0.frag`)
    const bytes = await readFile(path)
    bytes[100 * SEGMENT_SIZE + 7] = (bytes[100 * SEGMENT_SIZE + 7] as number) ^ 1
    await writeFile(path, bytes)
    await rejects(collect(store.read(DEAL, 0, 0, frag.length)), 'FragmentCorruptError')
    expect((await collect(store.read(DEAL, 0, 0, 64 * SEGMENT_SIZE))).equals(frag.subarray(0, 64 * SEGMENT_SIZE))).to.equal(true)
    await rejects(store.proof(DEAL, 0, 100), 'FragmentCorruptError')
    expect(verifyProof(merkleRoot(frag), frag.length, await store.proof(DEAL, 0, 10))).to.equal(true)
  })

  it('deletes, and garbage-collects fragments of ended deals', async () => {
    const other = `0x${'44'.repeat(32)}`
    const a = randomBytes(4 * SEGMENT_SIZE)
    await store.put(metaFor(a, 0), chunks(a))
    await store.put(metaFor(a, 1), chunks(a))
    await store.put(metaFor(a, 0, other), chunks(a))
    const removed = await store.gc(async (deal) => deal === DEAL)
    expect(removed.map((f) => f.slot).sort()).to.deep.equal([0, 1])
    expect((await store.list()).map((f) => f.dealId)).to.deep.equal([other])
    expect(await store.delete(other, 0)).to.equal(true)
    expect(await store.delete(other, 0)).to.equal(false)
    expect(await readdir(join(dir, 'fragments'))).to.deep.equal([])
    expect(store.usage().used).to.equal(0)
    await rejects(store.stat(other, 0), 'FragmentNotFoundError')
  })

  it('a process killed mid-write leaves no visible fragment; start() clears the leftovers', async function () {
    this.timeout(30000)
    await store.stop()
    await db.close()
    const script = `
      import { Level } from 'level'
      import { fragmentStore } from ${JSON.stringify(join(import.meta.dirname, '../../../node/storage/fragment-store/index.ts'))}
      const db = new Level(process.argv[1]); await db.open()
      const s = fragmentStore({ dir: process.argv[2] })({ db: db.sublevel('storage') }); await s.start()
      async function * slow () { for (;;) { yield Buffer.alloc(65536, 7); process.stdout.write('w'); await new Promise((r) => setTimeout(r, 5)) } }
      await s.put({ dealId: '0x${'55'.repeat(32)}', slot: 0, size: 1 << 30, root: '0x${'66'.repeat(32)}', owner: '${OWNER}' }, slow())
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, join(dir, 'db'), join(dir, 'fragments')], { stdio: ['ignore', 'pipe', 'inherit'] })
    const closed = new Promise((resolve) => child.once('close', resolve))
    try {
      await new Promise<void>((resolve, reject) => {
        let seen = 0
        child.stdout.on('data', (b: Buffer) => { seen += b.length; if (seen > 20) resolve() })
        child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)))
      })
      expect((await readdir(join(dir, 'fragments'))).some((n) => n.endsWith('.part'))).to.equal(true)
    } finally {
      child.kill('SIGKILL')
      await closed
    }
    expect((await readdir(join(dir, 'fragments'))).filter((n) => !n.endsWith('.part'))).to.deep.equal([])
    db = new Level<string, string>(join(dir, 'db'))
    await db.open()
    store = await open()
    expect(await store.list()).to.deep.equal([])
    expect(await readdir(join(dir, 'fragments'))).to.deep.equal([])
  })
})
