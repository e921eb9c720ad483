/**
 * Group chat: one gossipsub topic per group; messages are AES-256-GCM under a random group key
 * and signed by their author. The key reaches each member sealed to its public key inside a
 * direct message (an invite). A late joiner asks the member who invited it for earlier messages
 * over `/bitdust/group-history`; they arrive still encrypted and signed, so the member serving
 * them cannot forge or read anything new into them.
 *
 * Not done: key rotation when a member leaves (a removed member can still read new messages).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { DEFAULT_REQUEST_TIMEOUT_MS, groupTopic, MAX_MESSAGE_TEXT, PROTOCOL_GROUP_HISTORY } from '../constants.ts'
import { InvalidSignatureError, MessageDecryptError, NotGroupMemberError } from '../errors.ts'
import { signBytes, verifyByPeer } from '../peer-identity.ts'
import { signable } from '../wire/codec.ts'
import { Framed } from '../wire/framed.ts'
import { decodeReply, errorReply, GroupMessage, HistoryReply, HistoryRequest } from '../wire/messages.ts'
import type { DirectMessages, DmContent } from './direct.ts'
import type { MessageStore, StoredMessage } from './store.ts'
import type { Logger } from '../../log.ts'
import type { InferSchema } from '../wire/codec.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { AbortOptions, Libp2p, PrivateKey, Startable, Stream } from '@libp2p/interface'

export const GROUP_DOMAIN = 'bitdust:group-message:v1'
type WireGroupMessage = InferSchema<typeof GroupMessage.schema>

export interface Group {
  id: string
  name: string
  key: Uint8Array
  members: string[]
  /** Who invited us (or ourselves for groups we created). */
  inviter: string
}

export interface GroupsComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'peerId'> & { services: { pubsub: GossipSub } }
  privateKey: PrivateKey
  direct: DirectMessages
  store: MessageStore
  openStream: (peer: string, protocol: string, options?: AbortOptions) => Promise<Stream>
  log: Logger
}

const aadOf = (m: { id: string, group: string, from: string, time: number }): Buffer => Buffer.from(`${GROUP_DOMAIN}|${m.group}|${m.id}|${m.from}|${m.time}`)

function encrypt (key: Uint8Array, text: string, aad: Buffer): Uint8Array {
  const nonce = randomBytes(12)
  const c = createCipheriv('aes-256-gcm', key, nonce)
  c.setAAD(aad)
  const body = Buffer.concat([c.update(text, 'utf8'), c.final()])
  return new Uint8Array(Buffer.concat([nonce, body, c.getAuthTag()]))
}

function decrypt (key: Uint8Array, box: Uint8Array, aad: Buffer): string {
  try {
    const b = Buffer.from(box)
    const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, 12))
    d.setAAD(aad)
    d.setAuthTag(b.subarray(b.length - 16))
    return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]).toString('utf8')
  } catch {
    throw new MessageDecryptError('A group message does not open with the group key; it was forged or belongs to another group.')
  }
}

export class Groups implements Startable {
  private readonly c: GroupsComponents
  private readonly groups = new Map<string, Group>()
  private readonly handlers = new Set<(groupId: string, m: StoredMessage) => void>()
  private readonly self: string
  private offPayload: (() => void) | undefined
  private readonly onGossip = (evt: CustomEvent<{ topic: string, data: Uint8Array }>): void => {
    const { topic, data } = evt.detail
    if (!topic.startsWith('bitdust/group-')) return
    void this.ingest(data).catch((err: Error) => { this.c.log('dropped group message: %s', err.message) })
  }

  constructor (c: GroupsComponents) {
    this.c = c
    this.self = c.libp2p.peerId.toString()
  }

  async start (): Promise<void> {
    for (const g of await this.c.store.groups?.() ?? []) {
      this.join({ ...g, key: new Uint8Array(Buffer.from(g.key, 'base64')) }, false)
    }
    this.c.libp2p.services.pubsub.addEventListener('message', this.onGossip as any)
    this.offPayload = this.c.direct.onPayload(async (from, p) => { await this.onInvite(from, p) })
    await this.c.libp2p.handle(PROTOCOL_GROUP_HISTORY, async (stream, conn) => { await this.serveHistory(stream, conn.remotePeer.toString()) }, { runOnLimitedConnection: true })
  }

  async stop (): Promise<void> {
    await this.saving
    for (const g of this.groups.values()) this.c.libp2p.services.pubsub.topicValidators.delete(groupTopic(g.id))
    this.c.libp2p.services.pubsub.removeEventListener('message', this.onGossip as any)
    this.offPayload?.()
    await this.c.libp2p.unhandle(PROTOCOL_GROUP_HISTORY)
  }

  list (): Group[] {
    return [...this.groups.values()]
  }

  get (groupId: string): Group | undefined {
    return this.groups.get(groupId)
  }

  onMessage (handler: (groupId: string, m: StoredMessage) => void): () => void {
    this.handlers.add(handler)
    return () => this.handlers.delete(handler)
  }

  /** Creates a group with a fresh key and invites `members`. */
  async create (name: string, members: string[] = [], options: AbortOptions = {}): Promise<Group> {
    const group: Group = { id: randomBytes(16).toString('hex'), name, key: new Uint8Array(randomBytes(32)), members: [this.self], inviter: this.self }
    this.join(group)
    for (const m of members) await this.invite(group.id, m, options)
    return group
  }

  /** Seals the group key to `peer` and sends it as a direct message (queued if offline). */
  async invite (groupId: string, peer: string, options: AbortOptions = {}): Promise<StoredMessage> {
    const g = this.mustGet(groupId)
    const isNew = !g.members.includes(peer)
    if (isNew) { g.members.push(peer); await this.save(g) }
    const invite = { kind: 'group-invite', group: { id: g.id, name: g.name, key: g.key, members: g.members.slice(0, 256) } }
    const sent = await this.c.direct.sendPayload(peer, invite, options)
    // The others learn the new member list too, so any of them can serve it history.
    if (isNew) {
      for (const m of g.members) {
        if (m === this.self || m === peer) continue
        void this.c.direct.sendPayload(m, invite).catch((err: Error) => { this.c.log('member list not sent to %s: %s', m, err.message) })
      }
    }
    return sent
  }

  private mustGet (groupId: string): Group {
    const g = this.groups.get(groupId)
    if (g == null) throw new NotGroupMemberError(`This node is not in group ${groupId}; ask a member for an invite.`)
    return g
  }

  /** Saves run one after another: a store may apply concurrent writes of one key in any order. */
  private saving: Promise<void> = Promise.resolve()
  private async save (g: Group): Promise<void> {
    const snapshot = { ...g, key: Buffer.from(g.key).toString('base64'), members: [...g.members] }
    this.saving = this.saving.then(async () => { await this.c.store.putGroup?.(snapshot) })
      .catch((err: Error) => { this.c.log('group %s not saved: %s', g.id, err.message) })
    await this.saving
  }

  private join (g: Group, save = true): void {
    this.groups.set(g.id, g)
    if (save) void this.save(g)
    const pubsub = this.c.libp2p.services.pubsub
    // Members forward only well-formed messages of this group signed by their author.
    pubsub.topicValidators.set(groupTopic(g.id), async (_peer, msg) => {
      try {
        const wire = GroupMessage.decode(msg.data)
        const ok = wire.group === g.id && await verifyByPeer(wire.from, signable(GROUP_DOMAIN, GroupMessage, { ...wire, sig: undefined }), wire.sig)
        return ok ? TopicValidatorResult.Accept : TopicValidatorResult.Reject
      } catch {
        return TopicValidatorResult.Reject
      }
    })
    pubsub.subscribe(groupTopic(g.id))
  }

  private async onInvite (from: string, p: DmContent): Promise<void> {
    if (p.kind !== 'group-invite' || p.group == null) return
    const known = this.groups.get(p.group.id)
    if (known != null) {
      for (const m of p.group.members) if (!known.members.includes(m)) known.members.push(m)
      await this.save(known)
      return
    }
    const g: Group = { id: p.group.id, name: p.group.name, key: p.group.key, members: [...p.group.members], inviter: from }
    if (!g.members.includes(this.self)) g.members.push(this.self)
    this.join(g)
    this.c.log('joined group %s (%s) invited by %s', g.name, g.id, from)
    void this.catchUp(g)
  }

  /**
   * Earlier messages come from the member who invited us; if it is gone, from the other members,
   * who got the new member list from the inviter.
   */
  private async catchUp (g: Group): Promise<void> {
    const order = [g.inviter, ...g.members.filter((m) => m !== g.inviter && m !== this.self)]
    for (const peer of order) {
      try {
        await this.fetchHistory(g.id, peer, 0, { signal: AbortSignal.timeout(DEFAULT_REQUEST_TIMEOUT_MS) })
        return
      } catch (err) {
        this.c.log('history of %s not fetched from %s: %s', g.id, peer, (err as Error).message)
      }
    }
  }

  async send (groupId: string, text: string, _options: AbortOptions = {}): Promise<StoredMessage> {
    const g = this.mustGet(groupId)
    if (text.length > MAX_MESSAGE_TEXT) throw new RangeError(`A message is at most ${MAX_MESSAGE_TEXT} characters.`)
    const head = { id: randomBytes(16).toString('hex'), group: g.id, from: this.self, time: Date.now() }
    const box = encrypt(g.key, text, aadOf(head))
    const unsigned = { ...head, box }
    const sig = await signBytes(this.c.privateKey, signable(GROUP_DOMAIN, GroupMessage, unsigned))
    const wire: WireGroupMessage = { ...unsigned, sig }
    const stored = await this.store(wire, text)
    await this.c.libp2p.services.pubsub.publish(groupTopic(g.id), GroupMessage.encode(wire)).catch((err: Error) => {
      this.c.log('group message %s not gossiped now (%s); members get it from history', head.id, err.message)
    })
    return stored
  }

  async history (groupId: string, options: AbortOptions & { since?: number, limit?: number } = {}): Promise<StoredMessage[]> {
    this.mustGet(groupId)
    return await this.c.store.history(`group:${groupId}`, options)
  }

  private async store (wire: WireGroupMessage, text: string): Promise<StoredMessage> {
    const m: StoredMessage = {
      id: `g-${wire.group}-${wire.id}`,
      peer: `group:${wire.group}`,
      from: wire.from,
      direction: wire.from === this.self ? 'out' : 'in',
      kind: 'text',
      text,
      time: wire.time,
      acked: true,
      attempts: 0,
      nextTry: 0,
      wire: Buffer.from(GroupMessage.encode(wire)).toString('base64')
    }
    await this.c.store.put(m)
    return m
  }

  /** Verifies, decrypts and keeps a group message; returns undefined for one we already have. */
  private async ingest (data: Uint8Array): Promise<StoredMessage | undefined> {
    const wire = GroupMessage.decode(data)
    const g = this.groups.get(wire.group)
    if (g == null) return undefined
    if (await this.c.store.get(`g-${wire.group}-${wire.id}`) != null) return undefined
    if (!(await verifyByPeer(wire.from, signable(GROUP_DOMAIN, GroupMessage, { ...wire, sig: undefined }), wire.sig))) {
      throw new InvalidSignatureError(`A message in group ${g.name} is not signed by its claimed author ${wire.from}.`)
    }
    const text = decrypt(g.key, wire.box, aadOf(wire))
    if (!g.members.includes(wire.from)) g.members.push(wire.from) // it holds the key: someone invited it
    const m = await this.store(wire, text)
    for (const h of this.handlers) h(g.id, m)
    return m
  }

  private async serveHistory (stream: Stream, remote: string): Promise<void> {
    const io = new Framed(stream, { idleTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS })
    try {
      const req = HistoryRequest.decode(await io.readFrame())
      const g = this.groups.get(req.group)
      if (g == null || !g.members.includes(remote)) throw new NotGroupMemberError(`Peer ${remote} is not a member of group ${req.group} here.`)
      const stored = await this.c.store.history(`group:${g.id}`, { since: req.since, limit: 64 })
      const messages = stored.filter((m) => m.wire != null).map((m) => GroupMessage.decode(new Uint8Array(Buffer.from(m.wire as string, 'base64'))))
      // The oldest go first if a few large messages would overflow one reply.
      let reply = HistoryReply.encode({ messages: [] })
      for (let from = 0; from <= messages.length; from++) {
        try { reply = HistoryReply.encode({ messages: messages.slice(from) }); break } catch {}
      }
      await io.writeFrame(reply)
      await io.closeWrite()
    } catch (err) {
      try {
        await io.writeFrame(errorReply(err))
        await io.closeWrite()
      } catch {
        io.abort(err as Error)
      }
    }
  }

  /** Asks `peer` for the group's messages since `since`; returns how many were new. */
  async fetchHistory (groupId: string, peer: string, since = 0, options: AbortOptions = {}): Promise<number> {
    this.mustGet(groupId)
    const stream = await this.c.openStream(peer, PROTOCOL_GROUP_HISTORY, options)
    const io = new Framed(stream)
    let added = 0
    try {
      await io.writeFrame(HistoryRequest.encode({ group: groupId, since }), options)
      const reply = decodeReply(await io.readFrame(8 * 256 * 1024, options), HistoryReply)
      await io.closeWrite(options)
      for (const w of reply.messages) {
        if (w.group !== groupId) continue
        try {
          if (await this.ingest(GroupMessage.encode(w)) != null) added++
        } catch (err) {
          this.c.log('history message refused: %s', (err as Error).message)
        }
      }
      return added
    } catch (err) {
      io.abort(err as Error)
      throw err
    }
  }
}
