/**
 * The download half of the data path: any k fragments -> Reed-Solomon (only if a data fragment
 * is missing) -> AES-256-GCM chunks -> plaintext. Every fragment used is hashed to its Merkle root
 * on the way; plaintext is released only chunk by chunk after GCM authenticated it, so a damaged
 * fragment can never produce wrong bytes. A fragment that fails (root, length, read error) is
 * excluded and decodeFile tries again with others while at least k remain.
 */
import { randomBytes } from 'node:crypto'
import { rename, rm } from 'node:fs/promises'
import type { AbortOptions } from '@libp2p/interface'
import { StreamDecryptor } from '../crypto/file-cipher.ts'
import { UnsupportedVersionError } from '../crypto/errors.ts'
import type { ErasureCodec } from '../erasure/codec.ts'
import { NotEnoughFragmentsError } from '../erasure/errors.ts'
import { ronomonCodec } from '../erasure/ronomon.ts'
import { stripeContentBytes, stripeLayout } from '../erasure/stripes.ts'
import { BLOCK_HEIGHT, TreeBuilder } from '../proofs/tree-builder.ts'
import { FRAGMENT_FORMAT_VERSION } from './constants.ts'
import { hex, type CodingParams } from './encode.ts'
import { InvalidFragmentError } from './errors.ts'
import type { WriteFn } from './fragment-files.ts'
import { StagedWriter } from './staged-writer.ts'

export interface FragmentSource {
  index: number
  /**
   * The fragment's bytes from the start, in pieces the source does not reuse after yielding them
   * (the decoder may hold a piece until later ones arrive). May be called again for a retry.
   */
  open: (options?: AbortOptions) => AsyncIterable<Uint8Array>
  /**
   * The pieces are the decoder's to overwrite (fresh buffers off the network, say): it then
   * decrypts them where they lie instead of into new memory. Leave unset for pieces of memory
   * the source still needs.
   */
  givesUpPieces?: boolean
}

export interface RejectedFragment { index: number, reason: string }

export type DecodeProgressEvent =
  | { type: 'decode:start', size: number, using: number[] }
  | { type: 'decode:progress', bytes: number, total: number }
  | { type: 'decode:rejected', index: number, reason: string }
  | { type: 'decode:done', size: number, used: number[] }

export interface DecodeOptions extends AbortOptions {
  codec?: ErasureCodec
  /** Replaces FileHandle.write for the output (decodeFile): tests inject ENOSPC. */
  write?: WriteFn
  onProgress?: (event: DecodeProgressEvent) => void
}

export interface DecodeResult {
  size: number
  /** Fragments the plaintext came from. */
  used: number[]
  /** Fragments found damaged or unreadable (candidates for repair). */
  rejected: RejectedFragment[]
}

/** A streaming decode hit damaged fragments after it had started yielding; retry without them. */
export class FragmentsRejectedError extends Error {
  override name = 'FragmentsRejectedError'
  readonly rejected: RejectedFragment[]
  constructor (rejected: RejectedFragment[]) {
    super(`Fragment${rejected.length === 1 ? '' : 's'} ${rejected.map((r) => `${r.index} (${r.reason})`).join(', ')} failed verification; decode again without ${rejected.length === 1 ? 'it' : 'them'}.`)
    this.rejected = rejected
  }
}

export function checkCodingParams (p: CodingParams, codec: ErasureCodec): void {
  if (p.format !== FRAGMENT_FORMAT_VERSION) throw new UnsupportedVersionError('fragment format', p.format, FRAGMENT_FORMAT_VERSION)
  if (p.codec !== codec.name) throw new InvalidFragmentError(`The fragments were coded with ${p.codec}; this program has ${codec.name}. Upgrade BitDust to read them.`)
  const layout = stripeLayout(p.contentSize, p.k, p.m, p.shardSize)
  if (layout.fragmentSize !== p.fragmentSize) throw new InvalidFragmentError(`Fragment size ${p.fragmentSize} does not match the coding parameters (expected ${layout.fragmentSize}).`)
  if (p.roots.length !== p.k + p.m) throw new InvalidFragmentError(`Expected ${p.k + p.m} fragment roots, got ${p.roots.length}.`)
}

/** Reads exactly n bytes at a time from an async iterator. */
class ExactReader {
  private readonly it: AsyncIterator<Uint8Array>
  private rest: Buffer = Buffer.alloc(0)
  constructor (source: AsyncIterable<Uint8Array>) { this.it = source[Symbol.asyncIterator]() }

  async read (n: number): Promise<Buffer> {
    if (this.rest.length >= n) {
      const out = this.rest.subarray(0, n)
      this.rest = this.rest.subarray(n)
      return out
    }
    const parts: Buffer[] = this.rest.length > 0 ? [this.rest] : []
    let have = this.rest.length
    while (have < n) {
      const r = await this.it.next()
      if (r.done === true) throw new Error(`it ended early (${have} of ${n} bytes of a shard)`)
      const b = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength)
      parts.push(b)
      have += b.length
    }
    const all = parts.length === 1 ? parts[0] as Buffer : Buffer.concat(parts, have)
    this.rest = all.subarray(n)
    return all.subarray(0, n)
  }

  async atEnd (): Promise<boolean> {
    if (this.rest.length > 0) return false
    for (;;) {
      const r = await this.it.next()
      if (r.done === true) return true
      if (r.value.length > 0) return false
    }
  }

  async close (): Promise<void> {
    await this.it.return?.().catch(() => {})
  }
}

interface PassResult { complete: boolean, bad: RejectedFragment[] }

/** One attempt with exactly k fragments; yields authenticated plaintext. */
async function * decodePass (set: FragmentSource[], p: CodingParams, key: Uint8Array, codec: ErasureCodec, options: DecodeOptions): AsyncGenerator<Buffer, PassResult> {
  const { k, m, shardSize } = p
  const layout = stripeLayout(p.contentSize, k, m, shardSize)
  const readers = set.map((s) => new ExactReader(s.open(options)))
  // Decoding only needs the roots: keep no stored levels below the block height.
  const builders = set.map(() => new TreeBuilder({ storedFromLevel: BLOCK_HEIGHT }))
  const treeTails: Array<Promise<void>> = set.map(() => Promise.resolve())
  const bad = new Map<number, string>()
  const indices = set.map((s) => s.index)
  const dataMissing = [...Array(k).keys()].filter((i) => !indices.includes(i))
  // Shards that are the decoder's to overwrite are decrypted where they lie, each hashed first (below).
  const inPlace = set.every((src) => src.givesUpPieces === true)
  const dec = new StreamDecryptor(key, { inPlace })
  let decryptError: Error | undefined
  let bytes = 0

  const readStripe = async (): Promise<Array<Buffer | undefined>> => Promise.all(readers.map(async (r, j) => {
    if (bad.has(indices[j] as number)) return undefined
    try {
      const shard = await r.read(shardSize)
      const b = builders[j] as TreeBuilder
      treeTails[j] = (treeTails[j] as Promise<void>).then(async () => b.update(shard))
      treeTails[j]?.catch(() => {})
      return shard
    } catch (err) {
      bad.set(indices[j] as number, `unreadable: ${(err as Error).message}`)
      return undefined
    }
  }))

  try {
    let next = readStripe()
    for (let s = 0; s < layout.stripes; s++) {
      options.signal?.throwIfAborted()
      const shards = await next
      if (s + 1 < layout.stripes) next = readStripe()
      if (bad.size > 0) return { complete: false, bad: [...bad].map(([index, reason]) => ({ index, reason })) }
      let data: Buffer[]
      if (dataMissing.length === 0) {
        data = indices.map((_, j) => shards[j] as Buffer).slice(0, k)
        // set is sorted: the first k entries are data shards 0..k-1
      } else {
        // Fresh buffers per stripe: the decryptor may still hold a piece of this one. Every byte
        // the codec reads (sources) or the decryptor gets (targets) is written first.
        const d = Buffer.allocUnsafe(k * shardSize)
        const q = Buffer.allocUnsafe(m * shardSize)
        indices.forEach((idx, j) => {
          const target = idx < k ? d.subarray(idx * shardSize) : q.subarray((idx - k) * shardSize)
          ;(shards[j] as Buffer).copy(target)
        })
        await codec.reconstruct(d, q, shardSize, indices, dataMissing)
        data = Array.from({ length: k }, (_, i) => d.subarray(i * shardSize, (i + 1) * shardSize))
      }
      if (decryptError != null) continue // keep hashing to find the damaged fragment
      // Shards that came off the network are decrypted where they lie: their hashing must be done.
      if (inPlace && dataMissing.length === 0) await Promise.all(treeTails)
      let content = stripeContentBytes(layout, s)
      for (const shard of data) {
        if (content <= 0) break
        const piece = content >= shard.length ? shard : shard.subarray(0, content)
        content -= piece.length
        try {
          for (const plain of dec.push(piece)) {
            bytes += plain.length
            yield plain
          }
        } catch (err) {
          if ((err as Error).name !== 'DecryptionError') throw err
          decryptError = err as Error
          break
        }
      }
      if (decryptError == null) options.onProgress?.({ type: 'decode:progress', bytes, total: p.size })
    }
    if (decryptError == null) {
      try { dec.end() } catch (err) { decryptError = err as Error }
    }
    for (let j = 0; j < set.length; j++) {
      const idx = indices[j] as number
      try {
        if (!(await (readers[j] as ExactReader).atEnd())) { bad.set(idx, `longer than ${p.fragmentSize} bytes`); continue }
        await treeTails[j]
        const root = hex((await (builders[j] as TreeBuilder).digest()).root)
        if (root.toLowerCase() !== (p.roots[idx] as string).toLowerCase()) bad.set(idx, 'Merkle root mismatch')
      } catch (err) {
        bad.set(idx, `unreadable: ${(err as Error).message}`)
      }
    }
    if (decryptError != null && bad.size === 0) throw decryptError // the fragments are right: the key or file is wrong
    return { complete: decryptError == null, bad: [...bad].map(([index, reason]) => ({ index, reason })) }
  } finally {
    await Promise.allSettled(treeTails)
    await Promise.all(readers.map(async (r) => r.close()))
  }
}

function prepare (sources: FragmentSource[], p: CodingParams, options: DecodeOptions): { codec: ErasureCodec, candidates: FragmentSource[] } {
  const codec = options.codec ?? ronomonCodec(p.k, p.m)
  checkCodingParams(p, codec)
  const seen = new Set<number>()
  const candidates = sources
    .filter((s) => Number.isInteger(s.index) && s.index >= 0 && s.index < p.k + p.m && !seen.has(s.index) && (seen.add(s.index), true))
    .sort((a, b) => a.index - b.index) // data fragments first: no Reed-Solomon work when they are all there
  return { codec, candidates }
}

/**
 * Decodes from any k good fragments into a stream of plaintext. Everything yielded is
 * authenticated; if a fragment turns out damaged after output started, throws
 * FragmentsRejectedError naming it (decode again without it), and NotEnoughFragmentsError when
 * fewer than k candidates are given.
 */
export async function * decodeStream (sources: FragmentSource[], params: CodingParams, key: Uint8Array, options: DecodeOptions = {}): AsyncGenerator<Buffer, DecodeResult> {
  const { codec, candidates } = prepare(sources, params, options)
  if (candidates.length < params.k) throw new NotEnoughFragmentsError(candidates.length, params.k, params.k + params.m)
  const set = candidates.slice(0, params.k)
  options.onProgress?.({ type: 'decode:start', size: params.size, using: set.map((s) => s.index) })
  const r = yield * decodePass(set, params, key, codec, options)
  for (const b of r.bad) options.onProgress?.({ type: 'decode:rejected', ...b })
  if (!r.complete) throw new FragmentsRejectedError(r.bad)
  options.onProgress?.({ type: 'decode:done', size: params.size, used: set.map((s) => s.index) })
  return { size: params.size, used: set.map((s) => s.index), rejected: r.bad }
}

/**
 * Decodes from any k of `sources` that verify into `outputPath`, through a temp file beside it:
 * on failure nothing is left at `outputPath`. Damaged fragments are excluded and others tried;
 * fewer than k good ones -> NotEnoughFragmentsError saying how many are missing.
 */
export async function decodeFile (sources: FragmentSource[], params: CodingParams, key: Uint8Array, outputPath: string, options: DecodeOptions = {}): Promise<DecodeResult> {
  const { codec, candidates } = prepare(sources, params, options)
  const rejected: RejectedFragment[] = []
  for (;;) {
    const usable = candidates.filter((c) => !rejected.some((r) => r.index === c.index))
    if (usable.length < params.k) {
      throw new NotEnoughFragmentsError(usable.length, params.k, params.k + params.m, rejected.map((r) => `fragment ${r.index}: ${r.reason}`).join('; '))
    }
    const set = usable.slice(0, params.k)
    options.onProgress?.({ type: 'decode:start', size: params.size, using: set.map((s) => s.index) })
    const tmp = `${outputPath}.${randomBytes(4).toString('hex')}.part`
    // Past the page cache where the filesystem allows: buffered writes made the download wait
    // on the kernel's writeback for most of its time, and staging lets decoding go on meanwhile.
    const out = await StagedWriter.create(tmp, { direct: true, write: options.write, diskPath: outputPath })
    let result: PassResult | undefined
    let renamed = false
    try {
      const pass = decodePass(set, params, key, codec, options)
      for (;;) {
        const r = await pass.next()
        if (r.done === true) { result = r.value; break }
        await out.push(r.value)
      }
      if (result.complete) {
        await out.end()
        await out.sync()
        await out.close()
        await rename(tmp, outputPath)
        renamed = true
      }
    } finally {
      if (!renamed) {
        await out.close().catch(() => {})
        await rm(tmp, { force: true })
      }
    }
    for (const b of result.bad) {
      rejected.push(b)
      options.onProgress?.({ type: 'decode:rejected', ...b })
    }
    if (result.complete) {
      options.onProgress?.({ type: 'decode:done', size: params.size, used: set.map((s) => s.index) })
      return { size: params.size, used: set.map((s) => s.index), rejected }
    }
  }
}
