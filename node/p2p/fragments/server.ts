/**
 * Supplier side of fragment put / get / list. Every handler reads bounded frames with an idle
 * timeout, answers failures with a typed error code, and never buffers a whole fragment.
 */
import { ROOT_LATER, SEGMENT_SIZE } from '../../proofs/constants.ts'
import { COMMIT_WAIT_MS, DEFAULT_IDLE_TIMEOUT_MS, MAX_LIST_ENTRIES, MAX_PROVEN_SEGMENTS, PROTOCOL_FRAGMENT_GET, PROTOCOL_FRAGMENT_LIST, PROTOCOL_FRAGMENT_PUT, PUT_PROGRESS_EVERY } from '../constants.ts'
import { FragmentRootMismatchError, FragmentSizeMismatchError, InvalidRangeError } from '../errors.ts'
import { signBytes } from '../peer-identity.ts'
import { signable } from '../wire/codec.ts'
import { Framed } from '../wire/framed.ts'
import { decodeReply, errorReply, FragmentList, GetReply, GetRequest, ListRequest, ListResult, PutCommit, PutHashed, PutProgressMsg, PutReady, PutRequest, PutResult, Receipt } from '../wire/messages.ts'
import { toHex } from '../wire/hex.ts'
import type { FragmentBackend, FragmentMeta } from './backend.ts'
import type { Logger } from '../../log.ts'
import type { PrivateKey, Stream } from '@libp2p/interface'

export const RECEIPT_DOMAIN = 'bitdust:receipt:v1'
export const LIST_DOMAIN = 'bitdust:fragment-list:v1'

export interface FragmentServerInit {
  idleTimeoutMs?: number
  /** How long a fragment sent before its root is known waits for the consumer's commit. */
  commitWaitMs?: number
}

export interface FragmentServerComponents {
  backend: FragmentBackend
  privateKey: PrivateKey
  peerId: string
  log: Logger
}

export interface Registrar {
  handle: (protocol: string, handler: (stream: Stream) => void | Promise<void>, options?: { runOnLimitedConnection?: boolean, maxInboundStreams?: number }) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
}

async function replyError (io: Framed, err: unknown, log: Logger): Promise<void> {
  log('fragment request failed: %s', (err as Error).message)
  try {
    await io.writeFrame(errorReply(err))
    await io.closeWrite()
  } catch {
    io.abort(err as Error)
  }
}

export class FragmentServer {
  private readonly c: FragmentServerComponents
  private readonly idleTimeoutMs: number
  private readonly commitWaitMs: number

  constructor (c: FragmentServerComponents, init: FragmentServerInit = {}) {
    this.c = c
    this.idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    this.commitWaitMs = init.commitWaitMs ?? COMMIT_WAIT_MS
  }

  async register (registrar: Registrar): Promise<void> {
    const opts = { runOnLimitedConnection: true, maxInboundStreams: 64 }
    await registrar.handle(PROTOCOL_FRAGMENT_PUT, async (s) => { await this.put(s) }, opts)
    await registrar.handle(PROTOCOL_FRAGMENT_GET, async (s) => { await this.get(s) }, opts)
    await registrar.handle(PROTOCOL_FRAGMENT_LIST, async (s) => { await this.list(s) }, opts)
  }

  async unregister (registrar: Registrar): Promise<void> {
    for (const p of [PROTOCOL_FRAGMENT_PUT, PROTOCOL_FRAGMENT_GET, PROTOCOL_FRAGMENT_LIST]) await registrar.unhandle(p)
  }

  async put (stream: Stream): Promise<void> {
    const io = new Framed(stream, { idleTimeoutMs: this.idleTimeoutMs })
    const ac = new AbortController()
    try {
      const req = PutRequest.decode(await io.readFrame())
      const meta: FragmentMeta = { dealId: req.dealId, slot: req.slot, size: req.size, root: req.root, owner: req.owner }
      if (req.size % SEGMENT_SIZE !== 0) throw new FragmentSizeMismatchError(`A fragment is a multiple of ${SEGMENT_SIZE} bytes; ${req.size} is not.`)
      await this.c.backend.check?.(meta)
      await io.writeFrame(PutReady.encode({}))
      // A fragment sent before its deal: report the root we hashed, keep it only once the
      // consumer commits to that same root (after opening the deal that names it).
      const confirm = meta.root !== ROOT_LATER
        ? undefined
        : async (root: string): Promise<void> => {
          await io.writeFrame(PutHashed.encode({ root }), { signal: ac.signal })
          const commit = decodeReply(await io.readFrame(undefined, { signal: ac.signal, idleTimeoutMs: this.commitWaitMs }), PutCommit)
          if (commit.root !== root) throw new FragmentRootMismatchError(`The consumer committed to root ${commit.root}, the bytes received hash to ${root}.`)
        }
      const stored = await this.c.backend.accept(meta, this.counted(io, req.size, ac.signal), { signal: ac.signal, ...(confirm !== undefined ? { confirm } : {}) })
      const receipt = { dealId: stored.dealId, slot: stored.slot, root: stored.root, size: stored.size, supplier: this.c.peerId, time: Date.now() }
      const sig = await signBytes(this.c.privateKey, signable(RECEIPT_DOMAIN, Receipt, receipt))
      await io.writeFrame(PutResult.encode({ receipt, sig }))
      await io.closeWrite()
      this.c.log('stored fragment %s/%d (%d bytes)', meta.dealId, meta.slot, meta.size)
    } catch (err) {
      ac.abort(err)
      await replyError(io, err, this.c.log)
    }
  }

  /** The fragment's bytes, with a progress frame back to the sender every few MiB. */
  private async * counted (io: Framed, size: number, signal: AbortSignal): AsyncGenerator<Uint8Array> {
    let received = 0
    let next = PUT_PROGRESS_EVERY
    for await (const chunk of io.readBytes(size, { signal })) {
      received += chunk.byteLength
      yield chunk
      if (received >= next && received < size) {
        next = received + PUT_PROGRESS_EVERY
        await io.writeFrame(PutProgressMsg.encode({ received }), { signal })
      }
    }
  }

  async get (stream: Stream): Promise<void> {
    const io = new Framed(stream, { idleTimeoutMs: this.idleTimeoutMs })
    try {
      const req = GetRequest.decode(await io.readFrame())
      const meta = await this.c.backend.stat(req.dealId, req.slot)
      const length = req.length === 0 ? meta.size - req.offset : req.length
      if (req.offset >= meta.size || length <= 0 || req.offset + length > meta.size) {
        throw new InvalidRangeError(`Range ${req.offset}+${req.length} is outside the ${meta.size}-byte fragment.`)
      }
      let proofs: string[][] | undefined
      if (req.proofs && !(req.offset === 0 && length === meta.size)) {
        if (req.offset % SEGMENT_SIZE !== 0 || length % SEGMENT_SIZE !== 0 || length / SEGMENT_SIZE > MAX_PROVEN_SEGMENTS) {
          throw new InvalidRangeError(`A proven range is segment-aligned (${SEGMENT_SIZE} bytes) and at most ${MAX_PROVEN_SEGMENTS} segments.`)
        }
        if (this.c.backend.paths == null) throw new InvalidRangeError('This supplier cannot prove ranges; fetch the whole fragment.')
        const paths = await this.c.backend.paths(req.dealId, req.slot, req.offset / SEGMENT_SIZE, length / SEGMENT_SIZE)
        proofs = paths.map((p) => p.map(toHex))
      }
      await io.writeFrame(GetReply.encode({ size: meta.size, root: meta.root, offset: req.offset, length, proofs }))
      // Each piece only goes onto the stream: the backend may lend its buffers instead of copying.
      for await (const chunk of this.c.backend.read(req.dealId, req.slot, req.offset, length, { lend: true })) {
        await io.write(chunk)
      }
      await io.closeWrite()
    } catch (err) {
      await replyError(io, err, this.c.log)
    }
  }

  async list (stream: Stream): Promise<void> {
    const io = new Framed(stream, { idleTimeoutMs: this.idleTimeoutMs })
    try {
      const req = ListRequest.decode(await io.readFrame())
      const held = await this.c.backend.list(req.owner)
      const list = {
        supplier: this.c.peerId,
        owner: req.owner,
        time: Date.now(),
        // The newest entries win if a consumer has more than fits one list.
        entries: held.slice(-MAX_LIST_ENTRIES).map((m) => ({ dealId: m.dealId, slot: m.slot, size: m.size, root: m.root }))
      }
      const sig = await signBytes(this.c.privateKey, signable(LIST_DOMAIN, FragmentList, list))
      await io.writeFrame(ListResult.encode({ list, sig }))
      await io.closeWrite()
    } catch (err) {
      await replyError(io, err, this.c.log)
    }
  }
}
