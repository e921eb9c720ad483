import { expect } from 'chai'
import { gossipFastMsgId } from '../../../node/p2p/gossip-ids.ts'
import { Cleanup, startNode, waitFor } from './helpers/nodes.ts'
import type { P2PNode } from '../../../node/p2p/node.ts'
import { TOPIC_OFFERS } from '../../../node/p2p/constants.ts'

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s))

describe('p2p/gossip-ids', function () {
  this.timeout(60_000)

  describe('gossipFastMsgId', () => {
    const msg = { from: b('alice'), seqno: b('0001'), topic: 't', data: b('hello'), signature: b('sig'), key: undefined }

    it('is the same for the same bytes and differs when any field differs', () => {
      expect(gossipFastMsgId({ ...msg })).to.equal(gossipFastMsgId(msg))
      const variants = [
        { ...msg, from: b('mallory') },
        { ...msg, seqno: b('0002') },
        { ...msg, topic: 'u' },
        { ...msg, data: b('hellp') },
        // A forged copy: same content, another signature. It must be verified, not taken as seen.
        { ...msg, signature: b('sih') },
        { ...msg, signature: undefined },
        { ...msg, key: b('k') },
      ]
      const ids = new Set([gossipFastMsgId(msg), ...variants.map(gossipFastMsgId)])
      expect(ids.size).to.equal(variants.length + 1)
    })

    it('does not confuse where one field ends and the next begins', () => {
      expect(gossipFastMsgId({ ...msg, from: b('ab'), seqno: b('c') })).to.not.equal(gossipFastMsgId({ ...msg, from: b('a'), seqno: b('bc') }))
      expect(gossipFastMsgId({ ...msg, data: b(''), signature: b('x') })).to.not.equal(gossipFastMsgId({ ...msg, data: undefined, signature: b('x') }))
    })
  })

  describe('on a mesh of real nodes', () => {
    const cleanup = new Cleanup()
    afterEach(async () => { await cleanup.run() })

    /** Four nodes, all connected, each with the other three in its mesh of `topic`. */
    const fullMesh = async (topic: string, subscribe: boolean): Promise<P2PNode[]> => {
      const nodes: P2PNode[] = []
      for (let i = 0; i < 4; i++) nodes.push(await startNode(cleanup))
      for (let i = 0; i < nodes.length; i++) {
        for (let j = i + 1; j < nodes.length; j++) await nodes[i]!.connect(nodes[j]!.multiaddrs()[0] as string)
      }
      if (subscribe) for (const n of nodes) n.libp2p.services.pubsub.subscribe(topic)
      // Every node must have all three others in its mesh, or some copies would not be sent.
      // (The implementation has getMeshPeers; the interface it is typed by does not.)
      const meshOf = (n: P2PNode): string[] => (n.libp2p.services.pubsub as unknown as { getMeshPeers: (t: string) => string[] }).getMeshPeers(topic)
      await waitFor(() => nodes.every((n) => meshOf(n).length === 3), 30_000, 'a full mesh')
      return nodes
    }

    /** Counts signature checks made with `node`'s key, in this process, while `fn` runs. */
    const countingChecks = async (node: P2PNode, fn: () => Promise<void>): Promise<number> => {
      const key = Buffer.from(node.libp2p.peerId.publicKey?.raw ?? [])
      const proto = Object.getPrototypeOf(node.libp2p.peerId.publicKey) as { verify: (...args: unknown[]) => unknown }
      const verify = proto.verify
      let checks = 0
      proto.verify = function (this: { raw: Uint8Array }, ...args: unknown[]) {
        if (Buffer.from(this.raw).equals(key)) checks++
        return verify.apply(this, args)
      }
      try {
        await fn()
      } finally {
        proto.verify = verify
      }
      return checks
    }

    it('gossip messages go unsigned by gossipsub (no sender id, no sequence number), once to each node', async () => {
      const topic = 'bitdust/test/gossip-ids'
      const nodes = await fullMesh(topic, true)
      const received = nodes.map(() => 0)
      const kinds = new Set<string>()
      nodes.forEach((n, i) => {
        n.libp2p.services.pubsub.addEventListener('message', (e) => {
          if (e.detail.topic !== topic) return
          received[i]!++
          kinds.add(e.detail.type)
        })
      })
      const sender = nodes[0] as P2PNode
      const checks = await countingChecks(sender, async () => {
        await sender.libp2p.services.pubsub.publish(topic, b('one message'))
        await waitFor(() => received.slice(1).every((r) => r === 1), 20_000, 'the message at every node')
        // Forwarded copies arrive after the original: give them time to be (not) delivered.
        await new Promise((resolve) => setTimeout(resolve, 2000))
      })
      expect(received).to.deep.equal([0, 1, 1, 1])
      expect([...kinds]).to.deep.equal(['unsigned'])
      expect(checks).to.equal(0)
    })

    it('a gossiped offer is checked by its own signature only, however many peers forward it', async () => {
      const nodes = await fullMesh(TOPIC_OFFERS, false) // discovery subscribes every node
      const sender = nodes[0] as P2PNode
      const checks = await countingChecks(sender, async () => {
        await sender.discovery.publish({ capacity: 10n ** 12n, price: 7n, stake: 1000n })
        await waitFor(() => nodes.slice(1).every((n) => n.discovery.cache.get(sender.peerId) != null), 20_000, 'the offer at every node')
        await new Promise((resolve) => setTimeout(resolve, 2000))
      })
      // The three receivers share this process, and a verified offer signature is remembered per
      // process (peer-identity.ts): one check in all. gossipsub's own signature added one per
      // node (four here) and a second signature by the sender.
      expect(checks).to.equal(1)
    })
  })
})
