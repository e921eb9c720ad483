/**
 * The upload half of the data path: plaintext -> chunked AES-256-GCM -> stripes -> Reed-Solomon
 * k+m -> fragments, each hashed into its Merkle tree as it streams by. Memory is bounded by a
 * few stripes (STRIPES_IN_FLIGHT), whatever the file size. Encryption runs on the calling thread
 * while parity, tree hashing and writes of earlier stripes run in the libuv pool.
 */
import { open } from 'node:fs/promises'
import type { AbortOptions } from '@libp2p/interface'
import { FILE_CHUNK_SIZE } from '../crypto/constants.ts'
import { CHUNK_TAG_SIZE, ChunkEncryptor, ciphertextSize, generateFileKey } from '../crypto/file-cipher.ts'
import type { ErasureCodec } from '../erasure/codec.ts'
import { DEFAULT_SHARD_SIZE, RONOMON_CODEC } from '../erasure/constants.ts'
import { ronomonCodec } from '../erasure/ronomon.ts'
import { stripeLayout } from '../erasure/stripes.ts'
import { TreeBuilder } from '../proofs/tree-builder.ts'
import { lend } from '../util/lent-buffers.ts'
import type { StoredTree } from '../proofs/stored-tree.ts'
import { DEFAULT_K, DEFAULT_M } from '../config/constants.ts'
import { FRAGMENT_FORMAT_VERSION, STRIPES_IN_FLIGHT } from './constants.ts'

/** How a file was coded: everything a decoder needs besides the key and the fragments. */
export interface CodingParams {
  /** Fragment format version (FRAGMENT_FORMAT_VERSION). */
  format: number
  /** Erasure codec name (parity bytes differ between codecs). */
  codec: string
  k: number
  m: number
  shardSize: number
  /** Plaintext chunk size of the file cipher. */
  chunkSize: number
  /** Plaintext bytes. */
  size: number
  /** Ciphertext bytes (striped content). */
  contentSize: number
  /** Bytes of each fragment. */
  fragmentSize: number
  /** Merkle root of each fragment, index order, 0x-hex. */
  roots: Array<`0x${string}`>
}

export interface EncodedFragment {
  index: number
  size: number
  root: `0x${string}`
  /** Where the fragment was written (encodeFile only). */
  path?: string
  /** Its stored tree file (encodeFile only). */
  treePath?: string
}

export interface EncodeResult extends CodingParams {
  /** The file key (32 bytes). Seal it into the manifest; never send it to suppliers. */
  key: Uint8Array
  /** The cipher's nonce salt: with `key`, encoding the same file again gives the same bytes. */
  salt: Uint8Array
  fragments: EncodedFragment[]
}

export type EncodeProgressEvent =
  | { type: 'encode:start', size: number, fragments: number, fragmentSize: number }
  | { type: 'encode:progress', bytes: number, total: number }
  | { type: 'encode:done', size: number }

/** Where fragment `index`'s bytes go, in order. */
export interface FragmentSink {
  /**
   * The next bytes of the fragment. The encoder reuses the buffer once the promise resolves:
   * copy `bytes` if you keep them longer (e.g. in a send queue), or encode with sinksKeepBytes.
   */
  write: (bytes: Uint8Array) => Promise<void>
  /** All bytes written; `tree` is the fragment's tree (store it to answer challenges). */
  close: (tree: StoredTree) => Promise<void>
  /** Encoding failed or was aborted: drop whatever was written. */
  abort: (err: Error) => Promise<void>
  /**
   * What the sink does with the bytes it keeps under sinksKeepBytes. 'lend': it hands them to
   * the network, whose noise encryption reports each byte consumed once copied into ciphertext
   * (util/lent-buffers.ts), after which the encoder may fill that memory again. 'drop': it keeps
   * nothing. Unset: it may keep them for good, and the encoder never reuses them.
   */
  keeps?: 'lend' | 'drop'
}

export interface EncodeOptions extends AbortOptions {
  k?: number
  m?: number
  shardSize?: number
  chunkSize?: number
  /** Reuse a file key (default: a fresh random one). */
  key?: Uint8Array
  /** Reuse a nonce salt (default: random); only with the key and file it was made for. */
  salt?: Uint8Array
  /**
   * Build the fragments' Merkle trees (default true). A second pass over a file whose roots are
   * known skips them: the suppliers check every fragment against its root anyway.
   */
  trees?: boolean
  /**
   * The sinks keep the bytes they are given (default false): a sink that queues shards need not
   * copy them. A stripe's buffers are then reused only once every sink is done with its shard
   * (FragmentSink.keeps); otherwise each stripe gets fresh ones.
   */
  sinksKeepBytes?: boolean
  codec?: ErasureCodec
  onProgress?: (event: EncodeProgressEvent) => void
}

/** A sink that keeps nothing: for a pass that only wants the roots, or fragments nobody reads. */
export const discardSink: FragmentSink = { write: async () => {}, close: async () => {}, abort: async () => {}, keeps: 'drop' }

/**
 * A stripe buffer's holders: the encoder until it has hashed and handed on every shard, and under
 * sinksKeepBytes each shard lent to the network. The last to let go returns it to its pool.
 * Fresh multi-MiB buffers per stripe are reused only if malloc keeps what the collector frees:
 * with glibc tuned (util/gc.ts) it mostly does, but where a collection's frees are trimmed, or
 * off glibc, every 4 KiB faults in zeroed (one devnet upload: 300,000 faults, a fifth of the
 * uploading node's CPU). A pass now allocates ~25 stripes of a 1 GiB upload's 256 (4+2).
 */
class StripeHolds {
  private holds = 1
  private pinned = false
  private readonly buf: Buffer
  private readonly pool: Buffer[]
  constructor (buf: Buffer, pool: Buffer[]) {
    this.buf = buf
    this.pool = pool
  }

  /** Lends `shard` (a view of the buffer) to whoever consumes it. */
  lendShard (shard: Buffer): void {
    this.holds++
    lend(shard, () => { this.release() })
  }

  /** A sink may keep its shard for good: never reuse the buffer. */
  pin (): void { this.pinned = true }
  release (): void {
    if (--this.holds === 0 && !this.pinned) this.pool.push(this.buf)
  }
}

/** What `trees: false` reports instead of a tree: no levels and a zero root. */
const EMPTY_TREE: StoredTree = { segments: 0, storedFrom: 0, levels: [], root: Buffer.alloc(32) }

export function hex (bytes: Uint8Array): `0x${string}` {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`
}

/**
 * How a `size`-byte file is coded, known before any pass over it: everything but the roots. An
 * upload needs the fragment size to choose suppliers before it reads the file.
 */
export function codingFor (size: number, options: Pick<EncodeOptions, 'k' | 'm' | 'shardSize' | 'chunkSize' | 'codec'> = {}): Omit<CodingParams, 'roots'> {
  const k = options.k ?? DEFAULT_K
  const m = options.m ?? DEFAULT_M
  const chunkSize = options.chunkSize ?? FILE_CHUNK_SIZE
  const layout = stripeLayout(ciphertextSize(size, chunkSize), k, m, options.shardSize ?? DEFAULT_SHARD_SIZE)
  return {
    format: FRAGMENT_FORMAT_VERSION,
    codec: options.codec?.name ?? RONOMON_CODEC,
    k,
    m,
    shardSize: layout.shardSize,
    chunkSize,
    size,
    contentSize: layout.contentSize,
    fragmentSize: layout.fragmentSize,
  }
}

/**
 * Encodes `size` plaintext bytes delivered by `fill(buf)` (which fills exactly the buffer it is
 * given with the next bytes) into k+m sinks. The general form behind encodeFile and encodeStream.
 */
async function encodeCore (
  size: number,
  fill: (buf: Buffer) => Promise<void>,
  sinkFor: (index: number) => FragmentSink | Promise<FragmentSink>,
  options: EncodeOptions,
): Promise<EncodeResult> {
  const coding = codingFor(size, options)
  const { k, m, chunkSize, shardSize } = coding
  const codec = options.codec ?? ronomonCodec(k, m)
  const key = options.key ?? generateFileKey()
  const n = k + m
  const enc = new ChunkEncryptor(key, size, { chunkSize, ...(options.salt !== undefined ? { salt: options.salt } : {}) })
  const sinks: FragmentSink[] = []
  const trees = options.trees ?? true
  const builders = Array.from({ length: n }, () => new TreeBuilder())
  const signal = options.signal
  options.onProgress?.({ type: 'encode:start', size, fragments: n, fragmentSize: coding.fragmentSize })

  const inflight: Array<Promise<void>> = []
  let tail: Promise<void> = Promise.resolve()
  let stripe: Buffer = Buffer.allocUnsafe(k * shardSize)
  let filled = 0
  let done = 0

  // Buffers are reused: fresh multi-MiB allocations cost page faults and GC on every stripe.
  const keepsBytes = options.sinksKeepBytes === true
  const stripePool: Buffer[] = []
  const parityPool: Buffer[] = []
  const submit = async (data: Buffer, plainBytes: number): Promise<void> => {
    const parity = parityPool.pop() ?? Buffer.allocUnsafe(m * shardSize)
    const encoded = codec.encode(data, parity, shardSize)
    const prev = tail
    tail = (async () => {
      await encoded
      await prev
      const holds = [new StripeHolds(data, stripePool), new StripeHolds(parity, parityPool)]
      await Promise.all(Array.from({ length: n }, async (_, i) => {
        const shard = i < k ? data.subarray(i * shardSize, (i + 1) * shardSize) : parity.subarray((i - k) * shardSize, (i - k + 1) * shardSize)
        const sink = sinks[i] as FragmentSink
        // Sinks that do not keep bytes are done with them once write() resolves.
        if (keepsBytes && sink.keeps !== 'drop') {
          const hold = holds[i < k ? 0 : 1] as StripeHolds
          if (sink.keeps === 'lend') hold.lendShard(shard)
          else hold.pin()
        }
        await Promise.all([trees ? (builders[i] as TreeBuilder).update(shard) : undefined, sink.write(shard)])
      }))
      for (const h of holds) h.release()
      done += plainBytes
      options.onProgress?.({ type: 'encode:progress', bytes: done, total: size })
    })()
    // Failures surface when awaited below; keep them from being reported as unhandled meanwhile.
    tail.catch(() => {})
    encoded.catch(() => {})
    inflight.push(tail)
    if (inflight.length >= STRIPES_IN_FLIGHT) await inflight.shift()
  }

  let pendingPlain = 0
  const push = async (bytes: Buffer, plainBytes: number): Promise<void> => {
    pendingPlain += plainBytes
    let o = 0
    while (o < bytes.length) {
      const t = Math.min(stripe.length - filled, bytes.length - o)
      bytes.copy(stripe, filled, o, o + t)
      filled += t
      o += t
      if (filled === stripe.length) {
        const full = stripe
        stripe = stripePool.pop() ?? Buffer.allocUnsafe(k * shardSize)
        filled = 0
        const p = pendingPlain; pendingPlain = 0
        await submit(full, p)
      }
    }
  }

  try {
    for (let i = 0; i < n; i++) sinks.push(await sinkFor(i))
    await push(enc.header, 0)
    // Read one chunk ahead into the other of two buffers while this thread encrypts, each chunk
    // into one reused buffer: push() has copied it into the stripes before the next is sealed.
    const readBufs = [Buffer.allocUnsafe(chunkSize), Buffer.allocUnsafe(chunkSize)]
    const sealed = Buffer.allocUnsafe(chunkSize + CHUNK_TAG_SIZE)
    const read = async (i: number): Promise<Buffer> => {
      const b = (readBufs[i % 2] as Buffer).subarray(0, enc.chunkLength(i))
      await fill(b)
      return b
    }
    let next = read(0)
    for (let i = 0; i < enc.chunks; i++) {
      signal?.throwIfAborted()
      const plain = await next
      if (i + 1 < enc.chunks) { next = read(i + 1); next.catch(() => {}) }
      const chunk = enc.sealChunkInto(i, plain, sealed)
      await push(chunk.subarray(0, plain.length), 0)
      await push(chunk.subarray(plain.length), plain.length)
    }
    if (filled > 0) {
      stripe.fill(0, filled)
      await submit(stripe, pendingPlain)
    }
    await Promise.all(inflight)
    await tail
    const fragments: EncodedFragment[] = []
    for (let i = 0; i < n; i++) {
      const tree = trees ? await (builders[i] as TreeBuilder).digest() : EMPTY_TREE
      await (sinks[i] as FragmentSink).close(tree)
      fragments.push({ index: i, size: coding.fragmentSize, root: hex(tree.root) })
    }
    options.onProgress?.({ type: 'encode:done', size })
    return {
      ...coding,
      roots: fragments.map((f) => f.root),
      key,
      salt: enc.salt,
      fragments,
    }
  } catch (err) {
    await Promise.allSettled(inflight)
    await Promise.allSettled(sinks.map(async (s) => s.abort(err as Error)))
    throw err
  }
}

/** Encodes a plaintext stream of exactly `size` bytes into the sinks (e.g. network streams). */
export async function encodeStream (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, size: number, sinkFor: (index: number) => FragmentSink | Promise<FragmentSink>, options: EncodeOptions = {}): Promise<EncodeResult> {
  const it: AsyncIterator<Uint8Array> | Iterator<Uint8Array> = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()
  let rest: Uint8Array = new Uint8Array(0)
  const fill = async (buf: Buffer): Promise<void> => {
    let o = 0
    while (o < buf.length) {
      if (rest.length === 0) {
        const r = await it.next()
        if (r.done === true) throw new RangeError(`the stream ended before the declared ${size} bytes`)
        rest = r.value
        continue
      }
      const t = Math.min(rest.length, buf.length - o)
      buf.set(rest.subarray(0, t), o)
      rest = rest.subarray(t)
      o += t
    }
  }
  const result = await encodeCore(size, fill, sinkFor, options)
  if (rest.length > 0 || (await it.next()).done !== true) throw new RangeError(`the stream is longer than the declared ${size} bytes`)
  return result
}

/** Encodes a file on disk into the sinks. */
export async function encodeFileTo (inputPath: string, sinkFor: (index: number) => FragmentSink | Promise<FragmentSink>, options: EncodeOptions = {}): Promise<EncodeResult> {
  const fh = await open(inputPath, 'r')
  try {
    const { size } = await fh.stat()
    let position = 0
    const fill = async (buf: Buffer): Promise<void> => {
      const at = position
      position += buf.length
      let o = 0
      while (o < buf.length) {
        const { bytesRead } = await fh.read(buf, o, buf.length - o, at + o)
        if (bytesRead === 0) throw new RangeError(`${inputPath} shrank while it was being read`)
        o += bytesRead
      }
    }
    return await encodeCore(size, fill, sinkFor, options)
  } finally {
    await fh.close()
  }
}
