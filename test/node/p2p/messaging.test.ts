import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { Level } from 'level'
import { generateIdentity } from '../../../node/crypto/identity.ts'
import { seal } from '../../../node/crypto/seal.ts'
import { groupTopic, PROTOCOL_MESSAGE } from '../../../node/p2p/constants.ts'
import { levelMessageStore } from '../../../node/p2p/messaging/store.ts'
import { publicKeyOfPeer } from '../../../node/p2p/peer-identity.ts'
import { Framed } from '../../../node/p2p/wire/framed.ts'
import { Ack, decodeReply, DirectMessage, DmPayload } from '../../../node/p2p/wire/messages.ts'
import { Cleanup, startNode, tempDir, waitFor } from './helpers/nodes.ts'
import type { StoredMessage } from '../../../node/p2p/messaging/store.ts'
import type { P2PNode } from '../../../node/p2p/node.ts'

const fast = { messaging: { retryMinMs: 100, retryMaxMs: 500, timeoutMs: 3000 } }

async function rejects (p: Promise<unknown>, name: string): Promise<void> {
  try { await p } catch (err) { expect((err as Error).name, (err as Error).message).to.equal(name); return }
  throw new Error(`expected ${name}`)
}

describe('p2p messaging', function () {
  this.timeout(60_000)
  const cleanup = new Cleanup()
  afterEach(async () => { await cleanup.run() })

  async function pair (): Promise<[P2PNode, P2PNode]> {
    const a = await startNode(cleanup, fast)
    const b = await startNode(cleanup, fast)
    await a.connect(b.multiaddrs()[0] as string)
    return [a, b]
  }

  describe('direct messages', () => {
    it('delivers an encrypted message, acknowledges it and keeps history on both sides', async () => {
      const [a, b] = await pair()
      const got: StoredMessage[] = []
      b.messages.onMessage((m) => got.push(m))
      const sent = await a.messages.send(b.peerId, 'hello bob')
      expect(sent.acked).to.equal(true)
      expect(got.map((m) => [m.from, m.text])).to.deep.equal([[a.peerId, 'hello bob']])
      await b.messages.send(a.peerId, 'hi alice')
      expect((await a.messages.history(b.peerId)).map((m) => `${m.direction}:${m.text}`)).to.deep.equal(['out:hello bob', 'in:hi alice'])
      expect((await b.messages.history(a.peerId)).map((m) => `${m.direction}:${m.text}`)).to.deep.equal(['in:hello bob', 'out:hi alice'])
    })

    it('keeps a message to an offline contact in the outbox and delivers it when the contact comes online', async () => {
      const a = await startNode(cleanup, fast)
      const bKey = generateIdentity().privateKey
      const { createP2PNode } = await import('../../../node/p2p/node.ts')
      const b = await createP2PNode({ privateKey: bKey, ...fast })
      const sent = await a.messages.send(b.peerId, 'are you there?')
      expect(sent.acked).to.equal(false)
      const got: string[] = []
      b.messages.onMessage((m) => got.push(m.text))
      await b.start()
      cleanup.add(async () => { await b.stop() })
      await b.connect(a.multiaddrs()[0] as string)
      await waitFor(() => got.length > 0, 20_000, 'delayed delivery')
      expect(got).to.deep.equal(['are you there?'])
      await waitFor(async () => (await a.messages.history(b.peerId))[0]?.acked === true, 10_000, 'ack')
    })

    it('the outbox survives a restart with a persistent store', async () => {
      const dir = await tempDir(cleanup)
      const aKey = generateIdentity().privateKey
      const { createP2PNode } = await import('../../../node/p2p/node.ts')
      const bKey = generateIdentity().privateKey
      const b = await createP2PNode({ privateKey: bKey, ...fast })

      let db = new Level<string, string>(dir)
      let a = await createP2PNode({ privateKey: aKey, ...fast }, { messages: levelMessageStore(db.sublevel<string, string>('messages', {})) })
      await a.start()
      expect((await a.messages.send(b.peerId, 'saved for later')).acked).to.equal(false)
      await a.stop()
      await db.close()

      db = new Level<string, string>(dir)
      cleanup.add(async () => { await db.close() })
      a = await createP2PNode({ privateKey: aKey, ...fast }, { messages: levelMessageStore(db.sublevel<string, string>('messages', {})) })
      await a.start()
      cleanup.add(async () => { await a.stop() })
      const got: string[] = []
      b.messages.onMessage((m) => got.push(m.text))
      await b.start()
      cleanup.add(async () => { await b.stop() })
      await b.connect(a.multiaddrs()[0] as string)
      await waitFor(() => got.length > 0, 20_000, 'delivery after restart')
      expect(got).to.deep.equal(['saved for later'])
    })

    it('refuses a message whose claimed author is not the sending peer', async () => {
      const [a, b] = await pair()
      const mallory = await startNode(cleanup, fast)
      await mallory.connect(b.multiaddrs()[0] as string)
      const id = randomBytes(8).toString('hex')
      const sealed = seal(publicKeyOfPeer(b.peerId), DmPayload.encode({ kind: 'text', text: 'I am alice' }))
      const io = new Framed(await mallory.openStream(b.peerId, PROTOCOL_MESSAGE))
      await io.writeFrame(DirectMessage.encode({ id, from: a.peerId, time: Date.now(), sealed }))
      await rejects(io.readFrame().then((f) => decodeReply(f, Ack)), 'InvalidSignatureError')
      expect(await b.messages.history(a.peerId)).to.deep.equal([])
    })

    it('refuses messages beyond the per-peer rate; they stay in the sender\'s outbox', async () => {
      const a = await startNode(cleanup, fast)
      const b = await startNode(cleanup, { messaging: { ...fast.messaging, perMinute: 3 } })
      await a.connect(b.multiaddrs()[0] as string)
      const sent = []
      for (let i = 0; i < 5; i++) sent.push(await a.messages.send(b.peerId, `m${i}`))
      expect(sent.map((m) => m.acked)).to.deep.equal([true, true, true, false, false])
      expect((await b.messages.history(a.peerId)).map((m) => m.text)).to.deep.equal(['m0', 'm1', 'm2'])
    })

    it('refuses a message not sealed to the recipient', async () => {
      const [a, b] = await pair()
      const id = randomBytes(8).toString('hex')
      const sealed = seal(publicKeyOfPeer(a.peerId), DmPayload.encode({ kind: 'text', text: 'wrong key' }))
      const io = new Framed(await a.openStream(b.peerId, PROTOCOL_MESSAGE))
      await io.writeFrame(DirectMessage.encode({ id, from: a.peerId, time: Date.now(), sealed }))
      await rejects(io.readFrame().then((f) => decodeReply(f, Ack)), 'MessageDecryptError')
    })
  })

  describe('group chat', () => {
    it('members exchange encrypted messages and a late joiner receives earlier history', async () => {
      const a = await startNode(cleanup, fast)
      const b = await startNode(cleanup, fast)
      const c = await startNode(cleanup, fast)
      await b.connect(a.multiaddrs()[0] as string)
      await c.connect(a.multiaddrs()[0] as string)
      await c.connect(b.multiaddrs()[0] as string)
      const group = await a.groups.create('friends', [b.peerId])
      await waitFor(() => b.groups.get(group.id) != null, 10_000, 'invite')
      const topic = groupTopic(group.id)
      await waitFor(() => a.libp2p.services.pubsub.getSubscribers(topic).length > 0 && b.libp2p.services.pubsub.getSubscribers(topic).length > 0, 20_000, 'group mesh')

      const atB: string[] = []
      b.groups.onMessage((_g, m) => atB.push(m.text))
      await a.groups.send(group.id, 'first')
      await waitFor(() => atB.includes('first'), 20_000, 'group message at b')
      await b.groups.send(group.id, 'second')
      await waitFor(async () => (await a.groups.history(group.id)).length === 2, 20_000, 'group message at a')

      // C is invited after the fact and gets both earlier messages from A.
      await a.groups.invite(group.id, c.peerId)
      await waitFor(async () => c.groups.get(group.id) != null && (await c.groups.history(group.id)).length === 2, 20_000, 'history at c')
      expect((await c.groups.history(group.id)).map((m) => [m.from, m.text])).to.deep.equal([[a.peerId, 'first'], [b.peerId, 'second']])
      // The other members learn the new member list, so B can serve C history as well.
      await waitFor(() => b.groups.get(group.id)?.members.includes(c.peerId) === true, 20_000, 'member list at b')
      expect(await c.groups.fetchHistory(group.id, b.peerId)).to.equal(0)
      // An outsider cannot read the history.
      const outsider = await startNode(cleanup, fast)
      await outsider.connect(a.multiaddrs()[0] as string)
      await rejects(outsider.groups.fetchHistory(group.id, a.peerId), 'NotGroupMemberError')
    })

    it('groups, their keys and their history survive a restart with a persistent store', async () => {
      const dir = await tempDir(cleanup)
      const aKey = generateIdentity().privateKey
      const { createP2PNode } = await import('../../../node/p2p/node.ts')
      const b = await startNode(cleanup, fast)
      let db = new Level<string, string>(dir)
      let a = await createP2PNode({ privateKey: aKey, ...fast }, { messages: levelMessageStore(db.sublevel<string, string>('messages', {})) })
      await a.start()
      await a.connect(b.multiaddrs()[0] as string)
      const group = await a.groups.create('kept', [b.peerId])
      await waitFor(() => b.groups.get(group.id) != null, 10_000, 'invite')
      await a.groups.send(group.id, 'before restart')
      await a.stop()
      await db.close()

      db = new Level<string, string>(dir)
      cleanup.add(async () => { await db.close() })
      a = await createP2PNode({ privateKey: aKey, ...fast }, { messages: levelMessageStore(db.sublevel<string, string>('messages', {})) })
      await a.start()
      cleanup.add(async () => { await a.stop() })
      expect(a.groups.get(group.id)?.members).to.have.members([a.peerId, b.peerId])
      expect((await a.groups.history(group.id)).map((m) => m.text)).to.deep.equal(['before restart'])
      await a.connect(b.multiaddrs()[0] as string)
      const atB: string[] = []
      b.groups.onMessage((_g, m) => atB.push(m.text))
      const topic = groupTopic(group.id)
      await waitFor(() => a.libp2p.services.pubsub.getSubscribers(topic).length > 0, 20_000, 'group mesh after restart')
      await a.groups.send(group.id, 'after restart')
      await waitFor(() => atB.includes('after restart'), 20_000, 'message after restart')
    })

    it('drops a group message that is not signed by its claimed author', async () => {
      const a = await startNode(cleanup, fast)
      const b = await startNode(cleanup, fast)
      await b.connect(a.multiaddrs()[0] as string)
      const group = await a.groups.create('g', [b.peerId])
      await waitFor(() => b.groups.get(group.id) != null, 10_000, 'invite')
      const { GroupMessage } = await import('../../../node/p2p/wire/messages.ts')
      const real = await a.groups.send(group.id, 'genuine')
      const wire = GroupMessage.decode(new Uint8Array(Buffer.from(real.wire as string, 'base64')))
      const forged = GroupMessage.encode({ ...wire, id: 'ff', sig: new Uint8Array(64) })
      await rejects((b.groups as any).ingest(forged), 'InvalidSignatureError')
    })
  })
})
