/**
 * One encoding pass of a file, its fragments delivered as k+m byte streams (to be sent while
 * they are made) instead of files. The encoder runs at the pace of the slowest reader: each
 * stream buffers a few shards and the encoder waits for room. A reader that gives up (its
 * supplier failed) is detached and the others go on. Nothing is written to disk, so a file of
 * any size uploads without local space for its fragments.
 *
 * Every pass of an upload encrypts with the same key and salt: same file, same bytes, so a later
 * pass (a replacement supplier, a resumed upload) gives the fragments whose roots the deal holds.
 * A file changed in between gives fragments that fail the suppliers' root check;
 * `checkUnchanged` refuses earlier, by size and modification time.
 */
import { stat } from 'node:fs/promises'
import type { AbortOptions } from '@libp2p/interface'
import { discardSink, encodeFileTo, type EncodeResult, type FragmentSink } from './encode.ts'
import { FileChangedError } from './errors.ts'

/** Shards (256 KiB each by default) a stream holds before the encoder waits for its reader. */
const QUEUE_SHARDS = 16

/** What a second pass needs to give the bytes of the first. */
export interface ReencodeParams {
  k: number
  m: number
  shardSize: number
  chunkSize: number
  key: Uint8Array
  salt: Uint8Array
}

/** The file as it was when first encoded. */
export interface FileStamp { size: number, mtimeMs: number }

export async function fileStamp (path: string): Promise<FileStamp> {
  const s = await stat(path)
  return { size: s.size, mtimeMs: s.mtimeMs }
}

export async function checkUnchanged (path: string, stamp: FileStamp): Promise<void> {
  const now = await fileStamp(path).catch(() => undefined)
  if (now === undefined) throw new FileChangedError(path, 'it is gone')
  if (now.size !== stamp.size || now.mtimeMs !== stamp.mtimeMs) throw new FileChangedError(path, 'it was modified')
}

interface Waiter { promise: Promise<void>, resolve: () => void }
function waiter (): Waiter {
  let resolve!: () => void
  const promise = new Promise<void>((res) => { resolve = res })
  return { promise, resolve }
}

/** A bounded queue between the encoder (a FragmentSink) and one reader (an async iterable). */
export class ShardQueue implements FragmentSink, AsyncIterable<Buffer> {
  private items: Buffer[] = []
  private ended = false
  private error: Error | undefined
  private detached = false
  private readerWait: Waiter | undefined
  private writerWait: Waiter | undefined
  private readonly depth: number
  private readonly copy: boolean

  /**
   * `copy: false` only under an encoder run with sinksKeepBytes: otherwise it reuses a stripe's
   * buffers as soon as write() resolves, and a queued shard would change under its reader.
   */
  constructor (depth = QUEUE_SHARDS, options: { copy?: boolean } = {}) {
    this.depth = depth
    this.copy = options.copy ?? true
  }

  async write (bytes: Uint8Array): Promise<void> {
    while (!this.detached && this.items.length >= this.depth) {
      this.writerWait ??= waiter()
      await this.writerWait.promise
    }
    if (this.detached) return
    this.items.push(this.copy ? Buffer.from(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    this.wakeReader()
  }

  async close (): Promise<void> {
    this.ended = true
    this.wakeReader()
  }

  async abort (err: Error): Promise<void> {
    this.error = err
    this.wakeReader()
  }

  /** The reader is gone: drop what is queued and never make the encoder wait again. */
  detach (): void {
    this.detached = true
    this.items = []
    this.wakeWriter()
  }

  get isDetached (): boolean { return this.detached }

  async * [Symbol.asyncIterator] (): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const next = this.items.shift()
        if (next !== undefined) {
          this.wakeWriter()
          yield next
          continue
        }
        if (this.error !== undefined) throw this.error
        if (this.ended) return
        this.readerWait ??= waiter()
        await this.readerWait.promise
      }
    } finally {
      if (!this.ended || this.items.length > 0) this.detach()
    }
  }

  private wakeReader (): void {
    const w = this.readerWait
    this.readerWait = undefined
    w?.resolve()
  }

  private wakeWriter (): void {
    const w = this.writerWait
    this.writerWait = undefined
    w?.resolve()
  }
}

export interface FanOut {
  /** The bytes of each requested fragment, in order; ends when the fragment is complete. */
  streams: Map<number, ShardQueue>
  /**
   * Settles when the pass has ended: every stream complete (undefined if every reader left
   * early), or rejects with what stopped the encoder (an unreadable file, an abort).
   */
  done: Promise<EncodeResult | undefined>
}

/**
 * Starts one pass over `path` that feeds the fragments in `indices` (the others are dropped as
 * they are made: Reed-Solomon computes every shard of a stripe anyway). The pass stops early if
 * every reader detaches, or when `signal` aborts. With `trees`, it also hashes every fragment
 * (requested or not) and `done` gives their roots: the pass of a new upload, whose deal opens
 * with the roots once the fragments are sent.
 */
export function encodeFanOut (path: string, p: ReencodeParams, indices: number[], options: AbortOptions & { trees?: boolean } = {}): FanOut {
  const streams = new Map(indices.map((i) => [i, new ShardQueue(QUEUE_SHARDS, { copy: false })]))
  const ac = new AbortController()
  const signal = options.signal != null ? AbortSignal.any([options.signal, ac.signal]) : ac.signal
  const sinkFor = (i: number): FragmentSink => {
    const q = streams.get(i)
    if (q === undefined) return discardSink
    return {
      write: async (bytes) => {
        await q.write(bytes)
        // Nobody is reading any more: stop encoding instead of going through the file for nothing.
        if (q.isDetached && [...streams.values()].every((s) => s.isDetached)) ac.abort(new Error('every reader of the fragments has gone'))
      },
      close: async () => { await q.close() },
      abort: async (err) => { await q.abort(err) },
      // The readers send the shards over noise, which gives their memory back to the encoder.
      keeps: 'lend',
    }
  }
  const done = encodeFileTo(path, sinkFor, { k: p.k, m: p.m, shardSize: p.shardSize, chunkSize: p.chunkSize, key: p.key, salt: p.salt, trees: options.trees ?? false, sinksKeepBytes: true, signal })
    .then((r): EncodeResult | undefined => r, (err: unknown) => {
      // Stopped because every reader left: each reader has its own error to report.
      if (ac.signal.aborted && options.signal?.aborted !== true) return undefined
      // The encoder aborts the sinks it made; one that failed before making them (the file
      // could not be opened) would leave every reader waiting for bytes that never come.
      for (const q of streams.values()) void q.abort(err as Error)
      throw err
    })
  done.catch(() => {}) // the readers see the error; callers that await `done` get it too
  return { streams, done }
}
