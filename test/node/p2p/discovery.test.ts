import { expect } from 'chai'
import { generateIdentity } from '../../../node/crypto/identity.ts'
import { OfferCache, signOffer } from '../../../node/p2p/discovery/index.ts'
import { TOPIC_OFFERS } from '../../../node/p2p/constants.ts'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Cleanup, startNode, waitFor } from './helpers/nodes.ts'
import type { StakeChecker } from '../../../node/p2p/discovery/index.ts'

const terms = { capacity: 10n ** 12n, price: 7n, stake: 1000n }

function fakeChain (stakes: Record<string, bigint>): StakeChecker & { asked: string[] } {
  const asked: string[] = []
  return { asked, stakeOf: async (a) => { asked.push(a); return stakes[a.toLowerCase()] ?? 0n } }
}

async function keyed () {
  const key = privateKeyFromRaw(generateIdentity().privateKey)
  return { key, peerId: peerIdFromPrivateKey(key).toString() }
}

async function rejects (p: Promise<unknown>, name: string): Promise<void> {
  try { await p } catch (err) { expect((err as Error).name, (err as Error).message).to.equal(name); return }
  throw new Error(`expected ${name}`)
}

describe('p2p discovery', function () {
  this.timeout(60_000)

  describe('OfferCache', () => {
    it('keeps a verified offer whose stake the chain confirms', async () => {
      const { key, peerId } = await keyed()
      const signed = await signOffer(key, peerId, terms, [], 60_000)
      const chain = fakeChain({ [signed.offer.address]: 1000n })
      const cache = new OfferCache(chain)
      await cache.add(signed)
      expect(cache.list().map((o) => o.peerId)).to.deep.equal([peerId])
      expect(chain.asked).to.deep.equal([signed.offer.address])
    })

    it('drops an offer whose stake the chain does not confirm', async () => {
      const { key, peerId } = await keyed()
      const signed = await signOffer(key, peerId, terms, [], 60_000)
      const cache = new OfferCache(fakeChain({ [signed.offer.address]: 999n }))
      await rejects(cache.add(signed), 'InsufficientStakeError')
      expect(cache.size).to.equal(0)
    })

    it('drops a badly signed offer', async () => {
      const { key, peerId } = await keyed()
      const signed = await signOffer(key, peerId, terms, [], 60_000)
      const cache = new OfferCache(undefined)
      await rejects(cache.add({ ...signed, offer: { ...signed.offer, price: 1n } }), 'InvalidSignatureError')
      const other = await keyed()
      await rejects(cache.add({ offer: { ...signed.offer }, sig: (await signOffer(other.key, peerId, terms, [], 60_000)).sig }), 'InvalidSignatureError')
    })

    it('drops an offer naming another chain address than its key', async () => {
      const { key, peerId } = await keyed()
      const signed = await signOffer(key, peerId, terms, [], 60_000)
      await rejects(new OfferCache(undefined).add({ ...signed, offer: { ...signed.offer, address: '0x' + '99'.repeat(20) } }), 'AddressMismatchError')
    })

    it('reads a supplier\'s stake once for its offers within the confirmation time, again after it or for a larger claim', async () => {
      const { key, peerId } = await keyed()
      const start = Date.now()
      let now = start
      const stakes: Record<string, bigint> = {}
      const chain = fakeChain(stakes)
      const cache = new OfferCache(chain, { now: () => now, stakeConfirmedMs: 60_000 })
      const offer = async (stake: bigint): Promise<void> => {
        now += 1000
        await cache.add(await signOffer(key, peerId, { ...terms, stake, capacity: terms.capacity - BigInt(now - start) }, [], 600_000, now))
      }
      const address = (await signOffer(key, peerId, terms, [], 1000)).offer.address
      stakes[address.toLowerCase()] = 1000n
      await offer(1000n)
      await offer(1000n) // new free space, same stake: the confirmation stands
      await offer(900n)
      expect(chain.asked).to.have.length(1)
      // A claim above what the chain last said is read again: here it is refused, and not kept.
      await rejects(offer(2000n), 'InsufficientStakeError')
      expect(chain.asked).to.have.length(2)
      stakes[address.toLowerCase()] = 2000n
      await offer(2000n)
      expect(chain.asked).to.have.length(3)
      expect(cache.get(peerId)?.stake).to.equal(2000n)
      // Once the confirmation is old, the next offer is checked again: a slashed stake is seen.
      now += 60_000
      stakes[address.toLowerCase()] = 500n
      await rejects(offer(2000n), 'InsufficientStakeError')
      expect(chain.asked).to.have.length(4)
    })

    it('drops expired offers, on arrival and later', async () => {
      const { key, peerId } = await keyed()
      let now = Date.now()
      const cache = new OfferCache(undefined, { now: () => now })
      await rejects(cache.add(await signOffer(key, peerId, terms, [], 1000, now - 5000)), 'OfferExpiredError')
      await cache.add(await signOffer(key, peerId, terms, [], 1000, now))
      expect(cache.list()).to.have.length(1)
      now += 2000
      expect(cache.list()).to.have.length(0)
    })

    it('keeps the newest offer per peer and filters by capacity and price', async () => {
      const a = await keyed()
      const b = await keyed()
      const cache = new OfferCache(undefined)
      await cache.add(await signOffer(a.key, a.peerId, { ...terms, price: 9n }, [], 60_000, Date.now() - 10))
      await cache.add(await signOffer(a.key, a.peerId, { ...terms, price: 3n }, [], 60_000))
      await cache.add(await signOffer(b.key, b.peerId, { ...terms, capacity: 5n }, [], 60_000))
      expect(cache.list().map((o) => o.price)).to.deep.equal([3n, 7n])
      expect(cache.list({ minCapacity: 100n }).map((o) => o.peerId)).to.deep.equal([a.peerId])
      expect(cache.list({ maxPrice: 5n }).map((o) => o.peerId)).to.deep.equal([a.peerId])
    })
  })

  describe('on a network of real nodes', () => {
    const cleanup = new Cleanup()
    afterEach(async () => { await cleanup.run() })

    it('a consumer learns offers from gossip and drops the one the chain does not back', async () => {
      const supplier = await startNode(cleanup)
      const unstaked = await startNode(cleanup)
      const chain = fakeChain({ [supplier.address]: 10n ** 30n })
      const consumer = await startNode(cleanup, { bootstrap: [supplier.multiaddrs()[0] as string] }, { stake: chain })
      await unstaked.connect(supplier.multiaddrs()[0] as string)
      await consumer.connect(supplier.multiaddrs()[0] as string)
      await consumer.connect(unstaked.multiaddrs()[0] as string)
      // Gossip is best effort until the mesh forms: suppliers re-announce periodically, here by hand.
      await waitFor(async () => {
        await supplier.discovery.publish(terms)
        return consumer.discovery.cache.get(supplier.peerId) != null
      }, 30_000, 'gossiped offer')
      await waitFor(async () => {
        await unstaked.discovery.publish(terms)
        return chain.asked.includes(unstaked.address)
      }, 30_000, 'stake check of the unstaked supplier')
      const offer = consumer.discovery.cache.get(supplier.peerId)
      expect(offer?.address).to.equal(supplier.address)
      expect(offer?.addrs.length).to.be.greaterThan(0)
      expect(consumer.discovery.cache.get(unstaked.peerId)).to.equal(undefined)
    })

    it('a consumer that only shares a hub with a supplier learns its offer, keeps its addresses and stores on it', async () => {
      const { DirBackend } = await import('./helpers/dir-backend.ts')
      const { fragment, tempDir } = await import('./helpers/nodes.ts')
      const hub = await startNode(cleanup)
      const hubAddr = hub.multiaddrs()[0] as string
      const supplier = await startNode(cleanup, { bootstrap: [hubAddr] }, { fragments: new DirBackend(await tempDir(cleanup)) })
      const consumer = await startNode(cleanup, { bootstrap: [hubAddr] })
      await supplier.connect(hubAddr)
      await consumer.connect(hubAddr)
      // A forged offer (someone else's key signed it) is refused on the way.
      const mallory = await keyed()
      const forged = await signOffer(mallory.key, mallory.peerId, terms, [], 60_000)
      const { SignedOffer } = await import('../../../node/p2p/wire/messages.ts')
      await waitFor(async () => {
        await hub.libp2p.services.pubsub.publish(TOPIC_OFFERS, SignedOffer.encode({ offer: { ...forged.offer, peerId: supplier.peerId }, sig: forged.sig })).catch(() => {})
        await supplier.discovery.publish(terms)
        return consumer.discovery.cache.get(supplier.peerId) != null
      }, 30_000, 'offer through the hub')
      expect(consumer.discovery.cache.get(supplier.peerId)?.address).to.equal(supplier.address)
      // The offer's addresses are kept, so the supplier can be dialled without a lookup.
      const known = (await consumer.libp2p.peerStore.get(supplier.libp2p.peerId)).addresses.map((a) => a.multiaddr.toString())
      for (const a of supplier.multiaddrs()) expect(known.some((k) => a.startsWith(k))).to.equal(true)
      const { bytes, meta } = fragment(16)
      const r = await consumer.putFragment(supplier.peerId, meta, [bytes])
      expect(r.receipt.supplier).to.equal(supplier.peerId)
    })

    // Counts provides and how many peers each one reached, by wrapping the node's own DHT;
    // `publish` returns once the provide it may have started has ended.
    const watchProvides = (node: Awaited<ReturnType<typeof startNode>>) => {
      const dht = node.libp2p.services.dht
      const provide = dht.provide.bind(dht)
      const reached: number[] = []
      let running = 0
      dht.provide = async function * (...args: Parameters<typeof provide>) {
        running++
        let n = 0
        try {
          for await (const e of provide(...args)) {
            if (e.name === 'PEER_RESPONSE' && e.messageName === 'ADD_PROVIDER') n++
            yield e
          }
        } finally { running--; reached.push(n) }
      }
      const publish = async (t: typeof terms) => {
        const signed = await node.discovery.publish(t)
        await waitFor(() => running === 0, 30_000, 'provide to end')
        return signed
      }
      const publishUntilTaken = async (): Promise<void> => {
        await waitFor(async () => { await publish(terms); return (reached.at(-1) ?? 0) > 0 }, 30_000, 'a provide that reaches the peer')
      }
      return { reached, publish, publishUntilTaken }
    }

    it('a supplier sends its DHT provider record until a peer takes it, then not on every offer refresh', async () => {
      const alone = await startNode(cleanup, { discovery: { provideRetryMs: 60_000 } })
      const w = watchProvides(alone)
      await w.publish(terms)
      await w.publish(terms)
      expect(w.reached).to.deep.equal([0, 0]) // nobody to take it: every refresh tries again

      const peer = await startNode(cleanup)
      await alone.connect(peer.multiaddrs()[0] as string)
      await w.publishUntilTaken()
      const sent = w.reached.length
      const prices: bigint[] = []
      for (let i = 0; i < 3; i++) prices.push((await w.publish({ ...terms, price: BigInt(10 + i) })).offer.price)
      expect(prices).to.deep.equal([10n, 11n, 12n]) // each new offer was signed and gossiped...
      expect(w.reached.length).to.equal(sent) // ...but the provider record was not sent again

      // With no refresh period every publish provides again.
      const eager = await startNode(cleanup, { discovery: { provideRefreshMs: 0 } })
      const we = watchProvides(eager)
      await eager.connect(peer.multiaddrs()[0] as string)
      await we.publishUntilTaken()
      const before = we.reached.length
      await we.publish(terms)
      expect(we.reached.length).to.equal(before + 1)
    })

    it('a publish is the refresh: the periodic one comes a whole interval after the last publish', async () => {
      const node = await startNode(cleanup, { discovery: { intervalMs: 4000 } })
      const pubsub = node.libp2p.services.pubsub
      const publish = pubsub.publish.bind(pubsub)
      let sent = 0
      pubsub.publish = async (topic: string, data?: Uint8Array) => { if (topic === TOPIC_OFFERS) sent++; return await publish(topic, data) }
      const sleep = async (ms: number) => { await new Promise((resolve) => setTimeout(resolve, ms)) }
      await node.discovery.publish(terms)
      await sleep(2500)
      await node.discovery.publish(terms)
      await sleep(2500)
      // A timer started by the first publish would have fired at 4 s; the one restarted at
      // 2.5 s fires at 6.5 s.
      expect(sent).to.equal(2)
    })

    it('a provide that reached no peer is tried again soon, not only at the next offer refresh', async () => {
      const node = await startNode(cleanup, { discovery: { provideRetryMs: 200 } })
      const w = watchProvides(node)
      await w.publish(terms)
      expect(w.reached).to.deep.equal([0])
      const peer = await startNode(cleanup)
      await node.connect(peer.multiaddrs()[0] as string)
      await waitFor(() => (w.reached.at(-1) ?? 0) > 0, 20_000, 'a retried provide that reaches the peer')
      const taken = w.reached.length
      await new Promise((resolve) => setTimeout(resolve, 1500))
      expect(w.reached.length).to.equal(taken) // no more retries once a peer has it
    })

    it('a consumer finds suppliers through DHT provider records, with no central list', async () => {
      const seed = await startNode(cleanup)
      const boot = [seed.multiaddrs()[0] as string]
      const s1 = await startNode(cleanup, { bootstrap: boot })
      const s2 = await startNode(cleanup, { bootstrap: boot })
      for (const n of [s1, s2]) await n.connect(boot[0] as string)
      await waitFor(() => seed.libp2p.getPeers().length >= 2, 20_000, 'peers')
      await s1.discovery.publish(terms)
      await s2.discovery.publish({ ...terms, price: 1n })
      // The consumer joins after the gossip went out, so only the DHT can tell it about them.
      const consumer = await startNode(cleanup, { bootstrap: boot })
      await consumer.connect(boot[0] as string)
      expect(consumer.discovery.cache.size).to.equal(0)
      await waitFor(async () => {
        const offers = await consumer.discovery.findSuppliers({ atLeast: 2 }, { signal: AbortSignal.timeout(5000) })
        return offers.length >= 2
      }, 30_000, 'providers')
      expect(consumer.discovery.cache.list().map((o) => o.peerId)).to.deep.equal([s2.peerId, s1.peerId])
    })

    it('a consumer asks the suppliers it is connected to, and looks up again only when its cache is short or stale', async () => {
      // The supplier announces while alone: its gossip and its provider record reach nobody.
      const supplier = await startNode(cleanup)
      await supplier.discovery.publish(terms)
      const other = await startNode(cleanup)
      const consumer = await startNode(cleanup, { discovery: { lookupFreshMs: 60_000, lookupGapMs: 1000 } })
      // A DHT that holds no provider record yet; counts the walks.
      let walks = 0
      consumer.libp2p.contentRouting.findProviders = async function * () { walks++ }
      const fetched: string[] = []
      const fetchOffer = consumer.discovery.fetchOffer.bind(consumer.discovery)
      consumer.discovery.fetchOffer = async (peer, options) => { fetched.push(peer); return await fetchOffer(peer, options) }
      await consumer.connect(supplier.multiaddrs()[0] as string)
      await consumer.connect(other.multiaddrs()[0] as string)
      // Only a node with an offer serves the offer protocol, which identify tells its peers.
      const { PROTOCOL_OFFER } = await import('../../../node/p2p/constants.ts')
      const protocols = async (n: typeof supplier) => (await consumer.libp2p.peerStore.get(n.libp2p.peerId)).protocols
      await waitFor(async () => (await protocols(supplier)).includes(PROTOCOL_OFFER) && (await protocols(other)).length > 0, 20_000, 'identify')
      expect(await protocols(other)).to.not.include(PROTOCOL_OFFER)

      // Callers at once share one lookup, which asks the connected supplier and no one else; the
      // first caller gives up at once, which returns it what is cached and does not cut the
      // lookup short for the others.
      const [gaveUp, a, b] = await Promise.all([
        consumer.discovery.findSuppliers({}, { signal: AbortSignal.abort() }),
        consumer.discovery.findSuppliers(),
        consumer.discovery.findSuppliers(),
      ])
      expect(gaveUp).to.deep.equal([])
      expect(a.map((o) => o.peerId)).to.deep.equal([supplier.peerId])
      expect(b.map((o) => o.peerId)).to.deep.equal([supplier.peerId])
      expect({ walks, fetched }).to.deep.equal({ walks: 1, fetched: [supplier.peerId] })
      // The cache serves a caller it can satisfy, and one it cannot until the gap has passed.
      await consumer.discovery.findSuppliers({ atLeast: 1 })
      expect(await consumer.discovery.findSuppliers({ atLeast: 2 })).to.have.length(1)
      expect(walks).to.equal(1)
      await new Promise((resolve) => setTimeout(resolve, 1100))
      await consumer.discovery.findSuppliers({ atLeast: 2 })
      expect(walks).to.equal(2)
      expect(fetched).to.deep.equal([supplier.peerId]) // a cached offer is not fetched again
    })
  })
})
