/**
 * Consumer side of fragment put / get / list. The consumer verifies everything it gets back:
 * receipts and lists must be signed by the peer it talked to, and fetched bytes must match the
 * root it already knows from the deal (whole fragments) or carry valid Merkle paths (ranges).
 */
import { ROOT_LATER, SEGMENT_SIZE } from '../../proofs/constants.ts'
import { computeRoot, segmentCount, treeDepth } from '../../proofs/merkle.ts'
import { PROTOCOL_FRAGMENT_GET, PROTOCOL_FRAGMENT_LIST, PROTOCOL_FRAGMENT_PUT, WRITE_BATCH, WRITE_CHUNK } from '../constants.ts'
import { FragmentRootMismatchError, FragmentSizeMismatchError, InvalidRangeError, InvalidSignatureError, PeerTimeoutError, StreamEndedError, UnexpectedMessageError } from '../errors.ts'
import { verifyByPeer } from '../peer-identity.ts'
import { decodeOneOf, signable } from '../wire/codec.ts'
import { Framed } from '../wire/framed.ts'
import { decodeReply, errorReply, ErrorReply, FragmentList, GetReply, GetRequest, ListRequest, ListResult, PutCommit, PutHashed, PutProgressMsg, PutReady, PutRequest, PutResult, Receipt } from '../wire/messages.ts'
import { TreeBuilder } from '../../proofs/tree-builder.ts'
import { fromHex, toHex } from '../wire/hex.ts'
import { LIST_DOMAIN, RECEIPT_DOMAIN } from './server.ts'
import type { FragmentMeta } from './backend.ts'
import type { InferSchema } from '../wire/codec.ts'
import type { AbortOptions, Stream } from '@libp2p/interface'

export type FragmentReceipt = InferSchema<typeof Receipt.schema>
export interface SignedReceipt { receipt: FragmentReceipt, sig: Uint8Array }
export type FragmentListing = InferSchema<typeof FragmentList.schema>
export interface SignedListing { list: FragmentListing, sig: Uint8Array }

export interface PutProgress {
  type: 'fragment:put:bytes'
  /** Bytes handed to the connection. */
  sent: number
  /** Bytes the supplier confirmed it has taken in (reported every few MiB). */
  received: number
  total: number
}
export type GetProgress = { type: 'fragment:get:bytes', received: number, total: number }

export interface GetOptions extends AbortOptions {
  onProgress?: (event: GetProgress) => void
  idleTimeoutMs?: number
}

export interface PutOptions extends AbortOptions {
  onProgress?: (event: PutProgress) => void
  idleTimeoutMs?: number
  /**
   * Required for meta.root = ROOT_LATER: called with the root the supplier hashed once it has
   * every byte. Resolve to have it keep the fragment under that root (the deal naming it is open);
   * throw to have it drop the fragment.
   */
  commit?: (root: string) => Promise<void>
}

export interface GetRange {
  offset?: number
  /** 0 or undefined: to the end of the fragment. */
  length?: number
  /** The root the fragment must have (from the deal); required to verify. */
  root: string
  /**
   * Hash a whole fragment against `root` (default true). false only where the caller hashes the
   * bytes itself before trusting them, as the decoder does: hashing every byte twice was a
   * fifth of a download's CPU. Ranges are always checked against their Merkle paths.
   */
  verify?: boolean
}

/** Opens a stream to the peer for a protocol (the node decides how: direct or through a relay). */
export type StreamOpener = (protocol: string, options: AbortOptions) => Promise<Stream>

/**
 * The source's bytes in pieces of at most `piece` bytes, handed on only once `batch` bytes (or
 * the end) are there: they are then written in one turn of the event loop and so reach the
 * supplier in one burst (tcp-writes.ts), instead of a wake-up of the supplier per shard.
 */
export async function * burstPieces (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, batch = WRITE_BATCH, piece = WRITE_CHUNK): AsyncGenerator<Uint8Array> {
  let held: Uint8Array[] = []
  let bytes = 0
  const cut = function * (chunks: Uint8Array[]): Generator<Uint8Array> {
    for (const chunk of chunks) {
      for (let off = 0; off < chunk.byteLength; off += piece) yield chunk.subarray(off, Math.min(chunk.byteLength, off + piece))
    }
  }
  for await (const chunk of source) {
    held.push(chunk)
    bytes += chunk.byteLength
    if (bytes >= batch) {
      yield * cut(held)
      held = []
      bytes = 0
    }
  }
  yield * cut(held)
}

type PutReply = { received: number } | { hashed: string } | InferSchema<typeof PutResult.schema>

/** A progress report, the hashed root, or the result of a put; a supplier's error is thrown as its class. */
function decodePutReply (frame: Uint8Array): PutReply {
  const { def, value } = decodeOneOf(frame, PutProgressMsg, PutHashed, PutResult, ErrorReply)
  if (def.type === PutProgressMsg.type) return value as { received: number }
  if (def.type === PutHashed.type) return { hashed: (value as { root: string }).root }
  return decodeReply(frame, PutResult)
}

export async function verifyReceipt (r: SignedReceipt, supplier: string): Promise<void> {
  if (r.receipt.supplier !== supplier || !(await verifyByPeer(supplier, signable(RECEIPT_DOMAIN, Receipt, r.receipt), r.sig))) {
    throw new InvalidSignatureError(`The receipt is not signed by supplier ${supplier}; do not count this fragment as stored.`)
  }
}

export async function putFragment (open: StreamOpener, supplier: string, meta: FragmentMeta, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: PutOptions = {}): Promise<SignedReceipt> {
  const later = meta.root === ROOT_LATER
  const commit = options.commit
  if (later && commit === undefined) throw new TypeError('A put with ROOT_LATER needs options.commit')
  const stream = await open(PROTOCOL_FRAGMENT_PUT, options)
  const io = new Framed(stream, { idleTimeoutMs: options.idleTimeoutMs })
  try {
    await io.writeFrame(PutRequest.encode({ dealId: meta.dealId, slot: meta.slot, size: meta.size, root: meta.root, owner: meta.owner }), options)
    decodeReply(await io.readFrame(undefined, options), PutReady)
    let sent = 0
    let received = 0
    try {
      for await (const chunk of burstPieces(source)) {
        options.signal?.throwIfAborted()
        if (sent + chunk.byteLength > meta.size) throw new FragmentSizeMismatchError(`The source has more than the declared ${meta.size} bytes.`)
        await io.write(chunk, options)
        sent += chunk.byteLength
        options.onProgress?.({ type: 'fragment:put:bytes', sent, received, total: meta.size })
      }
    } catch (err) {
      // The supplier may have refused mid-way: prefer its reason over our broken pipe.
      if (err instanceof FragmentSizeMismatchError || err instanceof PeerTimeoutError || options.signal?.aborted === true) throw err
      // decodePutReply throws the supplier's error if it sent one.
      const signal = AbortSignal.timeout(2000)
      for (;;) {
        let frame: Uint8Array
        try { frame = await io.readFrame(undefined, { signal }) } catch { break }
        if (!('received' in decodePutReply(frame))) break
      }
      throw err
    }
    if (sent !== meta.size) throw new FragmentSizeMismatchError(`The source ended after ${sent} of the declared ${meta.size} bytes.`)
    // The supplier reports progress while it drains what is still in flight; the idle timeout
    // applies between those reports, not to the whole wait for the receipt.
    let result: InferSchema<typeof PutResult.schema> | undefined
    let root = later ? undefined : meta.root
    while (result == null) {
      const reply = decodePutReply(await io.readFrame(undefined, options))
      if ('received' in reply) {
        received = reply.received
        options.onProgress?.({ type: 'fragment:put:bytes', sent, received, total: meta.size })
      } else if ('hashed' in reply) {
        if (!later || root !== undefined || commit === undefined) throw new UnexpectedMessageError('The supplier reported a root nobody asked for.')
        options.onProgress?.({ type: 'fragment:put:bytes', sent, received: meta.size, total: meta.size })
        try {
          await commit(reply.hashed)
        } catch (err) {
          // Tell the supplier why, so it drops the fragment now rather than at its timeout.
          await io.writeFrame(errorReply(err), { signal: AbortSignal.timeout(2000) }).catch(() => {})
          throw err
        }
        root = reply.hashed
        await io.writeFrame(PutCommit.encode({ root }), options)
      } else {
        result = reply
      }
    }
    const r = result.receipt
    if (r.dealId !== meta.dealId || r.slot !== meta.slot || r.root !== root || r.size !== meta.size) {
      throw new InvalidSignatureError('The receipt does not describe the fragment that was sent.')
    }
    await verifyReceipt(result, supplier)
    await io.closeWrite(options)
    return result
  } catch (err) {
    io.abort(err as Error)
    throw err
  }
}

/**
 * Streams bytes of a fragment. A whole fragment is hashed as it arrives and the iteration throws
 * FragmentRootMismatchError at the end if it does not match `range.root`: callers must treat the
 * bytes as unverified until the iteration completes. A segment-aligned partial range (at most
 * MAX_PROVEN_SEGMENTS) comes with Merkle paths and is verified before any byte is yielded.
 */
export async function * getFragment (open: StreamOpener, dealId: string, slot: number, range: GetRange, options: GetOptions = {}): AsyncGenerator<Uint8Array> {
  const offset = range.offset ?? 0
  const partialHint = offset !== 0 || (range.length ?? 0) !== 0
  const stream = await open(PROTOCOL_FRAGMENT_GET, options)
  const io = new Framed(stream, { idleTimeoutMs: options.idleTimeoutMs })
  let done = false
  try {
    await io.writeFrame(GetRequest.encode({ dealId, slot, offset, length: range.length ?? 0, proofs: partialHint }), options)
    const reply = decodeReply(await io.readFrame(undefined, options), GetReply)
    if (reply.offset !== offset || reply.offset + reply.length > reply.size) throw new InvalidRangeError('The supplier answered with another range than asked.')
    const whole = offset === 0 && reply.length === reply.size
    if (!partialHint || whole) {
      if (reply.root !== range.root) throw new FragmentRootMismatchError(`The supplier holds root ${reply.root}, the deal says ${range.root}.`)
      // The proof tree is hashed off the main thread (node/proofs), as fast as the stream.
      const tree = range.verify === false ? undefined : new TreeBuilder()
      let received = 0
      for await (const chunk of io.readBytes(reply.length, options)) {
        await tree?.update(chunk)
        received += chunk.byteLength
        options.onProgress?.({ type: 'fragment:get:bytes', received, total: reply.length })
        yield chunk
      }
      if (tree !== undefined) {
        const root = await tree.digest().then((t) => t.root, () => undefined)
        if (root == null || toHex(root) !== range.root) throw new FragmentRootMismatchError(`The fragment ${dealId}/${slot} from this supplier does not match its root; discard it and use another supplier.`)
      }
    } else {
      const proofs = reply.proofs ?? []
      const n = reply.length / SEGMENT_SIZE
      if (proofs.length !== n) throw new FragmentRootMismatchError('The supplier sent no Merkle paths for the range.')
      const depth = treeDepth(segmentCount(reply.size))
      const expected = Buffer.from(fromHex(range.root))
      const buf = new Uint8Array(reply.length)
      let off = 0
      for await (const chunk of io.readBytes(reply.length, options)) { buf.set(chunk, off); off += chunk.byteLength }
      for (let i = 0; i < n; i++) {
        const path = (proofs[i] as string[]).map(fromHex)
        const seg = buf.subarray(i * SEGMENT_SIZE, (i + 1) * SEGMENT_SIZE)
        if (path.length !== depth || !Buffer.from(computeRoot(seg, offset / SEGMENT_SIZE + i, path)).equals(expected)) {
          throw new FragmentRootMismatchError(`Segment ${offset / SEGMENT_SIZE + i} of ${dealId}/${slot} fails its Merkle proof; the supplier's copy is bad.`)
        }
      }
      yield buf
    }
    if (!(await io.atEnd(options))) throw new InvalidRangeError('The supplier sent more bytes than the range.')
    // Our side must close too: a half-open stream counts against the connection's stream limit
    // until it goes, and a long-lived connection would run out after 64 reads.
    await io.closeWrite(options)
    done = true
  } catch (err) {
    done = true
    io.abort(err as Error)
    if (err instanceof StreamEndedError) throw new FragmentSizeMismatchError(`The supplier stopped mid-fragment: ${err.message}`)
    throw err
  } finally {
    // The caller stopped iterating early (return() skips the catch): the stream is abandoned.
    if (!done) io.abort(new Error('The reader stopped before the end of the fragment.'))
  }
}

export async function listFragments (open: StreamOpener, supplier: string, owner: string, options: AbortOptions = {}): Promise<SignedListing> {
  const stream = await open(PROTOCOL_FRAGMENT_LIST, options)
  const io = new Framed(stream)
  try {
    await io.writeFrame(ListRequest.encode({ owner }), options)
    const result = decodeReply(await io.readFrame(undefined, options), ListResult)
    if (result.list.owner !== owner || result.list.supplier !== supplier ||
      !(await verifyByPeer(supplier, signable(LIST_DOMAIN, FragmentList, result.list), result.sig))) {
      throw new InvalidSignatureError(`The fragment list is not signed by supplier ${supplier} for ${owner}.`)
    }
    await io.closeWrite(options)
    return result
  } catch (err) {
    io.abort(err as Error)
    throw err
  }
}
