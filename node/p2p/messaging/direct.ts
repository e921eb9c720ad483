/**
 * End-to-end encrypted direct messages: sealed to the recipient's public key (the one inside its
 * peer id), acknowledged, kept as history. A message to an offline contact stays in the outbox and
 * is retried with exponential backoff, and at once when the contact connects, until acknowledged.
 */
import { randomBytes } from 'node:crypto'
import { open, seal } from '../../crypto/seal.ts'
import { DEFAULT_MESSAGES_PER_MINUTE, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_RETRY_MAX_MS, DEFAULT_RETRY_MIN_MS, PROTOCOL_MESSAGE } from '../constants.ts'
import { InvalidSignatureError, MessageDecryptError, RateLimitedError } from '../errors.ts'
import { publicKeyOfPeer } from '../peer-identity.ts'
import { Framed } from '../wire/framed.ts'
import { Ack, decodeReply, DirectMessage, DmPayload, errorReply } from '../wire/messages.ts'
import type { MessageStore, StoredMessage } from './store.ts'
import type { Logger } from '../../log.ts'
import type { InferSchema } from '../wire/codec.ts'
import type { AbortOptions, Libp2p, Startable, Stream } from '@libp2p/interface'

export type DmContent = InferSchema<typeof DmPayload.schema>

export interface DirectMessagesInit {
  /** Messages accepted from one peer per minute; more are refused with RateLimitedError. */
  perMinute?: number
  retryMinMs?: number
  retryMaxMs?: number
  timeoutMs?: number
}

export interface DirectMessagesComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'addEventListener' | 'removeEventListener' | 'peerId'>
  /** The node's raw 32-byte secp256k1 key (to open what is sealed to us). */
  secret: Uint8Array
  store: MessageStore
  openStream: (peer: string, protocol: string, options?: AbortOptions) => Promise<Stream>
  log: Logger
}

const aad = (id: string, from: string, to: string): Uint8Array => new TextEncoder().encode(`bitdust:dm:v1|${id}|${from}|${to}`)

export class DirectMessages implements Startable {
  private readonly c: DirectMessagesComponents
  private readonly retryMinMs: number
  private readonly retryMaxMs: number
  private readonly timeoutMs: number
  private readonly perMinute: number
  private readonly recent = new Map<string, { start: number, count: number }>()
  private readonly self: string
  private readonly textHandlers = new Set<(m: StoredMessage) => void>()
  private readonly payloadHandlers = new Set<(from: string, p: DmContent) => void | Promise<void>>()
  private timer: NodeJS.Timeout | undefined
  private running = false
  private readonly inFlight = new Set<string>()
  private readonly onConnect = (evt: CustomEvent<{ toString: () => string }>): void => {
    const peer = evt.detail.toString()
    void this.flush((m) => m.peer === peer)
  }

  constructor (c: DirectMessagesComponents, init: DirectMessagesInit = {}) {
    this.c = c
    this.retryMinMs = init.retryMinMs ?? DEFAULT_RETRY_MIN_MS
    this.retryMaxMs = init.retryMaxMs ?? DEFAULT_RETRY_MAX_MS
    this.timeoutMs = init.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.perMinute = init.perMinute ?? DEFAULT_MESSAGES_PER_MINUTE
    this.self = c.libp2p.peerId.toString()
  }

  async start (): Promise<void> {
    this.running = true
    await this.c.libp2p.handle(PROTOCOL_MESSAGE, async (stream, conn) => { await this.receive(stream, conn.remotePeer.toString()) }, { runOnLimitedConnection: true })
    this.c.libp2p.addEventListener('peer:connect', this.onConnect as any)
    this.schedule(0)
  }

  async stop (): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    this.c.libp2p.removeEventListener('peer:connect', this.onConnect as any)
    await this.c.libp2p.unhandle(PROTOCOL_MESSAGE)
  }

  /** Text messages received (not group invites). Returns an unsubscribe function. */
  onMessage (handler: (m: StoredMessage) => void): () => void {
    this.textHandlers.add(handler)
    return () => this.textHandlers.delete(handler)
  }

  /** Every decrypted payload (used by groups for invites). */
  onPayload (handler: (from: string, p: DmContent) => void | Promise<void>): () => void {
    this.payloadHandlers.add(handler)
    return () => this.payloadHandlers.delete(handler)
  }

  async history (peer: string, options: AbortOptions & { limit?: number } = {}): Promise<StoredMessage[]> {
    return (await this.c.store.history(peer, options)).filter((m) => m.kind === 'text')
  }

  /**
   * Queues a text message and tries to deliver it now. Resolves with the stored message; `acked`
   * tells whether it was delivered already (else it waits in the outbox and is retried).
   */
  async send (peer: string, text: string, options: AbortOptions = {}): Promise<StoredMessage> {
    return await this.sendPayload(peer, { kind: 'text', text }, options)
  }

  async sendPayload (peer: string, payload: DmContent, options: AbortOptions = {}): Promise<StoredMessage> {
    publicKeyOfPeer(peer) // a peer we cannot seal to is refused now, not retried forever
    DmPayload.encode(payload)
    const m: StoredMessage = {
      id: randomBytes(16).toString('hex'),
      peer,
      from: this.self,
      direction: 'out',
      kind: payload.kind === 'text' ? 'text' : 'group-invite',
      text: payload.kind === 'text' ? payload.text ?? '' : JSON.stringify({ ...payload.group, key: Buffer.from(payload.group?.key ?? []).toString('base64') }),
      time: Date.now(),
      acked: false,
      attempts: 0,
      nextTry: Date.now()
    }
    await this.c.store.put(m, options)
    await this.attempt(m, options)
    return (await this.c.store.get(m.id)) ?? m
  }

  private payloadOf (m: StoredMessage): DmContent {
    if (m.kind === 'group-invite') {
      const g = JSON.parse(m.text) as NonNullable<DmContent['group']> & { key: string }
      return { kind: 'group-invite', group: { ...g, key: new Uint8Array(Buffer.from(g.key, 'base64')) } }
    }
    return { kind: 'text', text: m.text }
  }

  /** One delivery attempt; on failure the message is rescheduled with backoff. */
  private async attempt (m: StoredMessage, options: AbortOptions = {}): Promise<void> {
    if (this.inFlight.has(m.id)) return
    this.inFlight.add(m.id)
    try {
      const sealed = seal(publicKeyOfPeer(m.peer), DmPayload.encode(this.payloadOf(m)), aad(m.id, this.self, m.peer))
      const signal = AbortSignal.any([AbortSignal.timeout(this.timeoutMs), ...(options.signal != null ? [options.signal] : [])])
      const stream = await this.c.openStream(m.peer, PROTOCOL_MESSAGE, { signal })
      const io = new Framed(stream, { idleTimeoutMs: this.timeoutMs })
      try {
        await io.writeFrame(DirectMessage.encode({ id: m.id, from: this.self, time: m.time, sealed }), { signal })
        const ack = decodeReply(await io.readFrame(undefined, { signal }), Ack)
        if (ack.id !== m.id) throw new InvalidSignatureError('The contact acknowledged another message.')
        await io.closeWrite({ signal })
      } catch (err) {
        io.abort(err as Error)
        throw err
      }
      await this.c.store.put({ ...m, acked: true, attempts: m.attempts + 1 })
      this.c.log('message %s delivered to %s', m.id, m.peer)
    } catch (err) {
      const attempts = m.attempts + 1
      const delay = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** Math.min(attempts - 1, 20))
      await this.c.store.put({ ...m, attempts, nextTry: Date.now() + delay })
      this.c.log('message %s to %s not delivered (%s); retry in %d ms', m.id, m.peer, (err as Error).message, delay)
      this.schedule(delay)
    } finally {
      this.inFlight.delete(m.id)
    }
  }

  private schedule (delay: number): void {
    if (!this.running) return
    const at = Date.now() + delay
    if (this.timer != null && this.nextAt <= at) return
    clearTimeout(this.timer)
    this.nextAt = at
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.nextAt = Infinity
      void this.flush((m) => m.nextTry <= Date.now())
    }, delay)
    this.timer.unref()
  }

  private nextAt = Infinity

  /** Retries pending messages matching `which`. */
  async flush (which: (m: StoredMessage) => boolean = () => true): Promise<void> {
    if (!this.running) return
    const pending = await this.c.store.pending()
    let soonest = Infinity
    for (const m of pending) {
      if (which(m)) await this.attempt(m)
      else soonest = Math.min(soonest, m.nextTry - Date.now())
    }
    if (soonest !== Infinity) this.schedule(Math.max(0, soonest))
  }

  /** A fixed one-minute window per peer; the map forgets peers whose window is over. */
  private admit (peer: string): void {
    const now = Date.now()
    if (this.recent.size > 10_000) for (const [p, w] of this.recent) if (now - w.start > 60_000) this.recent.delete(p)
    let w = this.recent.get(peer)
    if (w == null || now - w.start > 60_000) { w = { start: now, count: 0 }; this.recent.set(peer, w) }
    if (++w.count > this.perMinute) throw new RateLimitedError(`More than ${this.perMinute} messages a minute from ${peer}; try again later.`)
  }

  private async receive (stream: Stream, remote: string): Promise<void> {
    const io = new Framed(stream, { idleTimeoutMs: this.timeoutMs })
    try {
      this.admit(remote)
      const dm = DirectMessage.decode(await io.readFrame())
      // The noise handshake authenticated `remote`; a message must come from its author.
      if (dm.from !== remote) throw new InvalidSignatureError(`Peer ${remote} sent a message claiming to be from ${dm.from}.`)
      let payload: DmContent
      try {
        payload = DmPayload.decode(open(this.c.secret, dm.sealed, aad(dm.id, dm.from, this.self)))
      } catch (err) {
        throw new MessageDecryptError(`A message from ${dm.from} could not be opened with our key: ${(err as Error).message}`)
      }
      const seen = await this.c.store.get(`in-${dm.from}-${dm.id}`)
      if (seen == null) {
        const m: StoredMessage = { id: `in-${dm.from}-${dm.id}`, peer: dm.from, from: dm.from, direction: 'in', kind: 'text', text: payload.text ?? '', time: dm.time, acked: true, attempts: 0, nextTry: 0 }
        if (payload.kind === 'text') await this.c.store.put(m)
        for (const h of this.payloadHandlers) await h(dm.from, payload)
        if (payload.kind === 'text') for (const h of this.textHandlers) h(m)
      }
      await io.writeFrame(Ack.encode({ id: dm.id }))
      await io.closeWrite()
    } catch (err) {
      this.c.log('incoming message refused: %s', (err as Error).message)
      try {
        await io.writeFrame(errorReply(err))
        await io.closeWrite()
      } catch {
        io.abort(err as Error)
      }
    }
  }
}
