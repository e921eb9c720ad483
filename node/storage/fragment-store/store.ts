import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { AbortOptions } from '@libp2p/interface'
import { DEFAULT_QUOTA } from '../../config/constants.ts'
import { log } from '../../log.ts'
import { ROOT_LATER, SEGMENT_SIZE } from '../../proofs/constants.ts'
import type { MerkleProof } from '../../proofs/merkle.ts'
import { blockOf, decodeStoredTree, encodeStoredTree, proveFromStoredTree, verifyBlocks, type StoredTree } from '../../proofs/stored-tree.ts'
import { TreeBuilder } from '../../proofs/tree-builder.ts'
import {
  DiskFullError, FragmentExistsError, FragmentNotFoundError, FragmentRootMismatchError, FragmentSizeMismatchError, InvalidFragmentError, QuotaExceededError,
} from '../errors.ts'
import { hex } from '../encode.ts'
import { isDiskFull, type ReadFn, type WriteFn } from '../fragment-files.ts'
import { alignUp, DIRECT_ALIGN, openDirectForRead, supportsDirectIo } from '../direct-io.ts'
import { STAGE_BYTES, StagedWriter, stagePool } from '../staged-writer.ts'
import { lend } from '../../util/lent-buffers.ts'
import type { FragmentMeta, FragmentStore, FragmentStoreComponents, FragmentStoreInit, MetaDb, PutOptions, ReadOptions, StoredFragment } from './index.ts'

const debug = log('storage:fragments')
const PREFIX = 'fragment/'
const HEX32 = /^0x[0-9a-f]{64}$/
const ADDRESS = /^0x[0-9a-f]{40}$/
/** Bytes read per verified step of a ranged read (64 stored blocks). */
const READ_STEP = 1024 * 1024
/** A durable store flushes a fragment to the device every this many bytes while it arrives. */
const SYNC_EVERY = 32 * 1024 * 1024

/** One verified step of a read; `back` gives a lent buffer back to its pool. */
interface Loaded { buf: Buffer, back?: () => void }
/** Parsed trees kept in memory for proofs. */
const TREE_CACHE = 32

/** Tree file bytes for a fragment of `size` (header + stored levels), for quota accounting. */
export function treeFileSize (size: number, storedFrom = 6): number {
  const segments = size / SEGMENT_SIZE
  let depth = 0
  while (2 ** depth < segments) depth++
  let total = 48
  for (let l = Math.min(storedFrom, depth); l <= depth; l++) total += Math.ceil(segments / 2 ** l) * 32
  return total
}

export class DiskFragmentStore implements FragmentStore {
  private readonly dir: string
  private quota: number
  private readonly durable: boolean
  private readonly directIo: boolean
  private direct = false
  private readonly writeFn: WriteFn
  private readonly readFn: ReadFn
  private readonly db: MetaDb
  private used = 0
  private readonly reserved = new Map<string, number>()
  private readonly trees = new Map<string, StoredTree>()
  private started = false

  constructor (init: FragmentStoreInit, components: FragmentStoreComponents) {
    this.dir = init.dir
    this.quota = Number(init.quota ?? DEFAULT_QUOTA)
    this.durable = init.durable ?? true
    this.directIo = init.directIo ?? true
    this.writeFn = init.write ?? (async (fh, data, offset, length, position) => fh.write(data, offset, length, position))
    this.readFn = init.read ?? (async (fh, buffer, offset, length, position) => fh.read(buffer, offset, length, position))
    this.db = components.db
  }

  /** Computes usage and removes what a killed process left: temp files and files without metadata. */
  async start (): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const known = new Set<string>()
    this.used = 0
    for (const f of await this.list()) {
      known.add(this.id(f.dealId, f.slot))
      this.used += f.size + treeFileSize(f.size)
    }
    for (const name of await readdir(this.dir)) {
      const id = name.replace(/\.(frag|tree)$/, '')
      if (name.endsWith('.part') || !known.has(id)) {
        debug('removing leftover %s', name)
        await rm(join(this.dir, name), { force: true })
      }
    }
    this.direct = this.directIo && await supportsDirectIo(this.dir)
    debug('fragment writes in %s: %s', this.dir, this.direct ? 'O_DIRECT' : 'buffered')
    this.started = true
  }

  async stop (): Promise<void> {
    this.started = false
    this.trees.clear()
  }

  /** How fragment data reaches the disk, decided by start(): 'direct' (O_DIRECT) or 'buffered'. */
  get writeMode (): 'direct' | 'buffered' {
    return this.direct ? 'direct' : 'buffered'
  }

  usage (): { used: number, quota: number } {
    let inFlight = 0
    for (const r of this.reserved.values()) inFlight += r
    return { used: this.used + inFlight, quota: this.quota }
  }

  setQuota (bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`a quota is a whole number of bytes, got ${bytes}`)
    this.quota = bytes
  }

  async check (meta: FragmentMeta): Promise<void> {
    this.validate(meta)
    const id = this.id(meta.dealId, meta.slot)
    if (this.reserved.has(id) || await this.get(meta.dealId, meta.slot) != null) throw new FragmentExistsError(id)
    const need = meta.size + treeFileSize(meta.size)
    const { used } = this.usage()
    if (used + need > this.quota) throw new QuotaExceededError(need, Math.max(0, this.quota - used), this.quota)
  }

  async put (meta: FragmentMeta, data: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<StoredFragment> {
    return this.accept(meta, data, options)
  }

  async accept (meta: FragmentMeta, data: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<StoredFragment> {
    if (!this.started) throw new Error('FragmentStore: start() it first')
    meta = { ...meta, dealId: meta.dealId.toLowerCase(), root: meta.root.toLowerCase(), owner: meta.owner.toLowerCase() }
    await this.check(meta)
    const confirm = options.confirm
    if (meta.root === ROOT_LATER && confirm === undefined) throw new InvalidFragmentError('A fragment sent before its root is known needs a confirmation of the root')
    const id = this.id(meta.dealId, meta.slot)
    this.reserved.set(id, meta.size + treeFileSize(meta.size))
    const tag = randomBytes(4).toString('hex')
    const tmp = join(this.dir, `${id}.frag.${tag}.part`)
    const tmpTree = join(this.dir, `${id}.tree.${tag}.part`)
    const fragPath = join(this.dir, `${id}.frag`)
    const treePath = join(this.dir, `${id}.tree`)
    // One hashing job per stage rather than one per 256 KiB: each job's completion wakes the
    // main thread, and a receiving supplier is mostly wake-ups (docs/datapath.md).
    const builder = new TreeBuilder({ blockHeight: Math.log2(STAGE_BYTES / SEGMENT_SIZE) })
    let out: StagedWriter | undefined
    let moved = false
    try {
      // Pieces arrive as the network delivers them (~64 KiB); the writer stages them into 1 MiB
      // writes and the tree hashes each stage, whole blocks in place, while it is written.
      out = await StagedWriter.create(tmp, {
        direct: this.direct,
        write: this.writeFn,
        onStage: async (bytes) => { await builder.update(bytes) },
        onRefused: (err, what) => { this.refused(err, what) },
        diskPath: this.dir,
        // Flushed as it arrives: the last flush, which the sender waits for, carries little.
        syncEvery: this.durable ? SYNC_EVERY : 0,
      })
      let received = 0
      for await (const piece of data) {
        options.signal?.throwIfAborted()
        if (received + piece.length > meta.size) throw new FragmentSizeMismatchError(`Fragment ${id}`, meta.size, 'more arrived')
        await out.push(piece)
        received += piece.length
        options.onProgress?.({ type: 'fragment:received', bytes: received, total: meta.size })
      }
      // Every byte is written: the stages go back now, not after a confirmation that may take minutes.
      await out.end()
      if (received !== meta.size) throw new FragmentSizeMismatchError(`Fragment ${id}`, meta.size, `only ${received} arrived`)
      const tree = await builder.digest()
      const root = hex(tree.root)
      // The last flush runs while the sender confirms the root (it waits for its deal to open).
      const synced = this.durable ? out.sync() : undefined
      synced?.catch(() => {}) // awaited below, or the file goes anyway
      if (meta.root === ROOT_LATER && confirm !== undefined) {
        // The data is all on disk (not yet synced): the sender confirms this root, or it goes.
        await confirm(root)
        options.signal?.throwIfAborted()
        meta = { ...meta, root }
      } else if (root !== meta.root) {
        throw new FragmentRootMismatchError(`Fragment ${id}`)
      }
      await synced
      await out.close()
      const tfh = await open(tmpTree, 'wx', 0o600)
      try {
        await tfh.writeFile(encodeStoredTree(tree))
        if (this.durable) await tfh.sync()
      } finally {
        await tfh.close()
      }
      await rename(tmpTree, treePath)
      await rename(tmp, fragPath)
      moved = true
      const stored: StoredFragment = { ...meta, storedAt: Date.now() }
      await this.db.put(this.key(meta.dealId, meta.slot), JSON.stringify(stored))
      this.used += meta.size + treeFileSize(meta.size)
      this.trees.set(id, tree)
      this.trimCache()
      debug('stored %s (%d bytes)', id, meta.size)
      return stored
    } catch (err) {
      await out?.close().catch(() => {})
      await rm(tmp, { force: true })
      await rm(tmpTree, { force: true })
      if (moved) {
        await rm(fragPath, { force: true })
        await rm(treePath, { force: true })
      }
      if (isDiskFull(err)) throw new DiskFullError(this.dir)
      throw err
    } finally {
      this.reserved.delete(id)
    }
  }

  async stat (dealId: string, slot: number): Promise<StoredFragment> {
    const f = await this.get(dealId, slot)
    if (f == null) throw new FragmentNotFoundError(this.id(dealId, slot))
    return f
  }

  async has (dealId: string, slot: number): Promise<boolean> {
    return (await this.get(dealId, slot)) != null
  }

  async * read (dealId: string, slot: number, offset: number, length: number, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    const f = await this.stat(dealId, slot)
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > f.size) {
      throw new RangeError(`Range ${offset}+${length} is outside fragment ${this.id(dealId, slot)} of ${f.size} bytes`)
    }
    if (length === 0) return
    const tree = await this.tree(dealId, slot)
    const blockBytes = 2 ** tree.storedFrom * SEGMENT_SIZE
    const step = Math.max(blockBytes, Math.floor(READ_STEP / blockBytes) * blockBytes)
    // A fragment read whole is rarely in the page cache (it was written past it, long ago): read it
    // past the cache too, into an aligned buffer, and copy out what the caller gets to keep (the
    // copy costs far less than a cold buffered read: BENCHMARKS.md, disk section), or lend the
    // aligned buffer itself to a caller that only sends it on (options.lend).
    const path = join(this.dir, `${this.id(dealId, slot)}.frag`)
    let direct = this.direct && step <= STAGE_BYTES && step % DIRECT_ALIGN === 0 && blockBytes % DIRECT_ALIGN === 0
    const directFh = direct ? await openDirectForRead(path).catch(async (err: unknown) => await this.refused(err, 'open')) : undefined
    let bufferedFh: Promise<FileHandle> | undefined = direct ? undefined : open(path, 'r')
    try {
      const start = Math.floor(offset / blockBytes) * blockBytes
      const end = offset + length
      // Verify only the blocks the range touches.
      const last = Math.min(f.size, Math.ceil(end / blockBytes) * blockBytes)
      const load = async (pos: number): Promise<Loaded> => {
        const n = Math.min(step, last - pos)
        if (direct && directFh !== undefined) {
          try {
            return await this.loadDirect(directFh, this.id(dealId, slot), pos, n, f.size, tree, blockBytes, options.lend === true)
          } catch (err) {
            await this.refused(err, 'read')
            direct = false
          }
        }
        bufferedFh ??= open(path, 'r')
        const fh = await bufferedFh
        const buf = Buffer.allocUnsafe(n)
        let got = 0
        while (got < n) {
          const { bytesRead } = await this.readFn(fh, buf, got, n - got, pos + got)
          if (bytesRead === 0) throw new FragmentSizeMismatchError(`Fragment file ${this.id(dealId, slot)}`, f.size, 'the file is shorter')
          got += bytesRead
        }
        await verifyBlocks(tree, pos / blockBytes, buf)
        return { buf }
      }
      // One step read ahead: the disk and the hash work while the caller sends the previous one.
      let next: Promise<Loaded> | undefined = load(start)
      try {
        for (let pos = start; pos < end; pos += step) {
          options.signal?.throwIfAborted()
          const { buf, back } = await (next as Promise<Loaded>)
          next = pos + step < end ? load(pos + step) : undefined
          next?.catch(() => {}) // surfaces when awaited
          const from = Math.max(offset, pos) - pos
          const to = Math.min(end, pos + buf.length) - pos
          const piece = buf.subarray(from, to)
          if (back !== undefined) lend(piece, back)
          yield piece
        }
      } finally {
        // The files close only after the read ahead settles; a step read but never handed out
        // goes straight back to the pool.
        const unread = await next?.catch(() => undefined)
        unread?.back?.()
      }
    } finally {
      await directFh?.close()
      await (await bufferedFh?.catch(() => undefined))?.close()
    }
  }

  async proof (dealId: string, slot: number, segmentIndex: number): Promise<MerkleProof> {
    const tree = await this.tree(dealId, slot)
    const { first, count } = blockOf(tree, segmentIndex < tree.segments && segmentIndex >= 0 ? segmentIndex : 0)
    const block = await this.readRaw(dealId, slot, first * SEGMENT_SIZE, count * SEGMENT_SIZE)
    return proveFromStoredTree(tree, segmentIndex, block)
  }

  async paths (dealId: string, slot: number, first: number, count: number): Promise<Uint8Array[][]> {
    const out: Uint8Array[][] = []
    for (let i = first; i < first + count; i++) out.push((await this.proof(dealId, slot, i)).path)
    return out
  }

  async list (owner?: string): Promise<StoredFragment[]> {
    const out: StoredFragment[] = []
    for await (const v of this.db.values({ gte: PREFIX, lt: `${PREFIX}\xff` })) {
      const f = JSON.parse(v) as StoredFragment
      if (owner == null || f.owner === owner.toLowerCase()) out.push(f)
    }
    return out
  }

  async delete (dealId: string, slot: number): Promise<boolean> {
    const f = await this.get(dealId, slot)
    if (f == null) return false
    const id = this.id(dealId, slot)
    // Metadata first: a crash between the two leaves orphan files, which start() removes.
    await this.db.del(this.key(dealId, slot))
    this.used -= f.size + treeFileSize(f.size)
    this.trees.delete(id)
    await rm(join(this.dir, `${id}.frag`), { force: true })
    await rm(join(this.dir, `${id}.tree`), { force: true })
    debug('deleted %s', id)
    return true
  }

  async gc (isDealEnded: (dealId: string) => boolean | Promise<boolean>, options: AbortOptions = {}): Promise<StoredFragment[]> {
    const removed: StoredFragment[] = []
    const verdicts = new Map<string, boolean>()
    for (const f of await this.list()) {
      options.signal?.throwIfAborted()
      let ended = verdicts.get(f.dealId)
      if (ended == null) { ended = await isDealEnded(f.dealId); verdicts.set(f.dealId, ended) }
      if (ended && await this.delete(f.dealId, f.slot)) removed.push(f)
    }
    return removed
  }

  /**
   * An O_DIRECT call failed: if the filesystem refused it (EINVAL), the store goes on buffered from
   * now on and the caller retries buffered (resolves undefined); any other error is rethrown.
   */
  /** O_DIRECT refused (EINVAL): this store goes buffered from now on; other errors are thrown. */
  private refused (err: unknown, what: string): undefined {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
    debug('O_DIRECT %s refused in %s (%s); buffered I/O from now on', what, this.dir, (err as Error).message)
    this.direct = false
    return undefined
  }

  /**
   * `n` bytes at `pos` (both block-aligned but for the file's end) through O_DIRECT, verified:
   * copied out of the aligned buffer, or (`lend`) the aligned buffer itself with the function that
   * gives it back to the pool.
   */
  private async loadDirect (fh: FileHandle, id: string, pos: number, n: number, size: number, tree: StoredTree, blockBytes: number, lend: boolean): Promise<Loaded> {
    let aligned: Buffer
    try {
      aligned = stagePool.take()
    } catch (err) {
      // Out of aligned memory: the same remedy as a filesystem refusing O_DIRECT.
      throw Object.assign(new Error(`no aligned buffer: ${(err as Error).message}`), { code: 'EINVAL' })
    }
    let lent = false
    try {
      // One read of whole blocks; at the end of the file the kernel stops at its size.
      const { bytesRead } = await this.readFn(fh, aligned, 0, alignUp(n), pos)
      if (bytesRead < n) throw new FragmentSizeMismatchError(`Fragment file ${id}`, size, 'the file is shorter')
      const data = aligned.subarray(0, n)
      await verifyBlocks(tree, pos / blockBytes, data)
      if (lend) {
        lent = true
        return { buf: data, back: () => { stagePool.give(aligned) } }
      }
      const buf = Buffer.allocUnsafe(n)
      data.copy(buf)
      return { buf }
    } finally {
      if (!lent) stagePool.give(aligned)
    }
  }

  private async readRaw (dealId: string, slot: number, offset: number, length: number): Promise<Buffer> {
    const fh = await open(join(this.dir, `${this.id(dealId, slot)}.frag`), 'r')
    try {
      const buf = Buffer.alloc(length)
      const { bytesRead } = await fh.read(buf, 0, length, offset)
      if (bytesRead !== length) throw new FragmentSizeMismatchError(`Fragment file ${this.id(dealId, slot)}`, offset + length, 'the file is shorter')
      return buf
    } finally {
      await fh.close()
    }
  }

  private async tree (dealId: string, slot: number): Promise<StoredTree> {
    const id = this.id(dealId, slot)
    const cached = this.trees.get(id)
    if (cached != null) return cached
    const f = await this.stat(dealId, slot)
    const tree = decodeStoredTree(await readFile(join(this.dir, `${id}.tree`)))
    if (hex(tree.root) !== f.root || tree.segments * SEGMENT_SIZE !== f.size) throw new FragmentRootMismatchError(`The tree file of ${id}`)
    this.trees.set(id, tree)
    this.trimCache()
    return tree
  }

  private trimCache (): void {
    while (this.trees.size > TREE_CACHE) this.trees.delete(this.trees.keys().next().value as string)
  }

  private async get (dealId: string, slot: number): Promise<StoredFragment | undefined> {
    let v: string | undefined
    try {
      v = await this.db.get(this.key(dealId, slot))
    } catch (err) {
      if ((err as { code?: string }).code === 'LEVEL_NOT_FOUND') return undefined
      throw err
    }
    return v == null ? undefined : JSON.parse(v) as StoredFragment
  }

  private validate (meta: FragmentMeta): void {
    if (typeof meta.dealId !== 'string' || !HEX32.test(meta.dealId.toLowerCase())) throw new InvalidFragmentError(`Deal id ${String(meta.dealId)} is not bytes32 hex`)
    if (!Number.isSafeInteger(meta.slot) || meta.slot < 0 || meta.slot > 65535) throw new InvalidFragmentError(`Slot ${meta.slot} is out of range`)
    if (!Number.isSafeInteger(meta.size) || meta.size <= 0 || meta.size % SEGMENT_SIZE !== 0) throw new InvalidFragmentError(`Fragment size ${meta.size} is not a non-zero multiple of ${SEGMENT_SIZE}`)
    if (typeof meta.root !== 'string' || !HEX32.test(meta.root.toLowerCase())) throw new InvalidFragmentError('The root is not bytes32 hex')
    if (typeof meta.owner !== 'string' || !ADDRESS.test(meta.owner.toLowerCase())) throw new InvalidFragmentError('The owner is not an address')
  }

  private id (dealId: string, slot: number): string {
    return `${dealId.toLowerCase()}-${slot}`
  }

  private key (dealId: string, slot: number): string {
    return `${PREFIX}${dealId.toLowerCase()}/${String(slot).padStart(5, '0')}`
  }
}
