import { expect } from 'chai'
import { multiaddr } from '@multiformats/multiaddr'
import { Cleanup, collect, fragment, startNode, tempDir, waitFor } from './helpers/nodes.ts'
import { DirBackend } from './helpers/dir-backend.ts'
import type { P2PNode } from '../../../node/p2p/node.ts'

describe('p2p relays that hide a node\'s address', function () {
  this.timeout(90_000)
  const cleanup = new Cleanup()
  let relay: P2PNode
  let supplier: P2PNode
  let hidden: P2PNode
  let relayAddr: string
  let backend: DirBackend

  beforeEach(async () => {
    relay = await startNode(cleanup, { relay: { serve: true } })
    relayAddr = relay.multiaddrs()[0] as string
    backend = new DirBackend(await tempDir(cleanup))
    supplier = await startNode(cleanup, { relay: { relays: [relayAddr] } }, { fragments: backend })
    hidden = await startNode(cleanup, { relay: { hide: true, relays: [relayAddr] } })
  })
  afterEach(async () => { await cleanup.run() })

  it('a hidden node listens only through its relay', () => {
    expect(hidden.multiaddrs()).to.not.be.empty
    for (const a of hidden.multiaddrs()) expect(a.startsWith(`${relayAddr}/p2p-circuit`), a).to.equal(true)
  })

  it('moves a fragment far above the 128 KiB default relay limit, and the supplier sees only the relay address', async () => {
    const { bytes, meta } = fragment(8 * 1024) // 2 MiB
    const receipt = await hidden.putFragment(supplier.peerId, meta, [bytes])
    expect(receipt.receipt.root).to.equal(meta.root)
    const back = await collect(hidden.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root }))
    expect(Buffer.from(back).equals(Buffer.from(bytes))).to.equal(true)

    const conns = supplier.libp2p.getConnections(hidden.libp2p.peerId)
    expect(conns).to.not.be.empty
    const relayTransport = multiaddr(relayAddr).toString().split('/p2p/')[0] as string
    for (const c of conns) {
      const remote = c.remoteAddr.toString()
      expect(remote, remote).to.include('/p2p-circuit')
      // The transport part of what the supplier sees is the relay's own listening address.
      expect(remote.startsWith(relayTransport), remote).to.equal(true)
    }
    const known = await supplier.libp2p.peerStore.get(hidden.libp2p.peerId)
    for (const a of known.addresses) expect(a.multiaddr.toString(), 'peer store').to.include('/p2p-circuit')
  })

  it('a hidden node refuses to dial anyone directly', async () => {
    const direct = supplier.multiaddrs().find((a) => !a.includes('p2p-circuit')) as string
    const err = await hidden.libp2p.dial(multiaddr(direct)).then(() => undefined, (e: Error) => e)
    expect(err).to.be.instanceOf(Error)
    expect(hidden.libp2p.getConnections(supplier.libp2p.peerId).filter((c) => !c.remoteAddr.toString().includes('p2p-circuit'))).to.be.empty
  })

  it('others reach a hidden node only through the relay', async () => {
    expect(hidden.multiaddrs().filter((a) => !a.includes('p2p-circuit'))).to.be.empty
    await supplier.libp2p.peerStore.merge(hidden.libp2p.peerId, { multiaddrs: hidden.libp2p.getMultiaddrs() })
    const conn = await supplier.libp2p.dial(hidden.libp2p.peerId)
    expect(conn.remoteAddr.toString()).to.include('/p2p-circuit')
    expect(conn.remoteAddr.toString().startsWith(relayAddr.split('/p2p/')[0] as string)).to.equal(true)
  })

  it('the hidden node\'s gater refuses direct inbound connections and direct dials to non-relays', async () => {
    const { hiddenGater } = await import('../../../node/p2p/libp2p.ts')
    const gater = hiddenGater([relayAddr])
    const direct = multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${supplier.peerId}`)
    expect(await gater.denyDialMultiaddr?.(direct)).to.equal(true)
    expect(await gater.denyDialMultiaddr?.(multiaddr(relayAddr))).to.equal(false)
    expect(await gater.denyDialMultiaddr?.(multiaddr(`${relayAddr}/p2p-circuit/p2p/${supplier.peerId}`))).to.equal(false)
    expect(await gater.denyInboundConnection?.({ remoteAddr: multiaddr('/ip4/127.0.0.1/tcp/5000') } as any)).to.equal(true)
  })

  it('a hidden node chats and hears offers through the relay only', async () => {
    const got: string[] = []
    supplier.messages.onMessage((m) => { got.push(m.text); void supplier.messages.send(m.from, `re: ${m.text}`) })
    const back: string[] = []
    hidden.messages.onMessage((m) => back.push(m.text))
    expect((await hidden.messages.send(supplier.peerId, 'hello from nowhere')).acked).to.equal(true)
    await waitFor(() => back.includes('re: hello from nowhere'), 20_000, 'reply through the relay')
    await waitFor(async () => {
      await supplier.discovery.publish({ capacity: 1n, price: 1n, stake: 0n })
      return hidden.discovery.cache.get(supplier.peerId) != null
    }, 30_000, 'offer gossiped to the hidden node')
    for (const c of supplier.libp2p.getConnections(hidden.libp2p.peerId)) expect(c.remoteAddr.toString()).to.include('/p2p-circuit')
  })

  it('a hidden node finds suppliers in the DHT through its relay', async () => {
    await supplier.discovery.publish({ capacity: 10n, price: 2n, stake: 0n })
    // A hidden node that starts after the gossip went out can only learn of it from the DHT.
    const late = await startNode(cleanup, { relay: { hide: true, relays: [relayAddr] } })
    const fetched: string[] = []
    const fetchOffer = late.discovery.fetchOffer.bind(late.discovery)
    late.discovery.fetchOffer = async (peer, options) => { fetched.push(peer); return await fetchOffer(peer, options) }
    await waitFor(async () => {
      await late.discovery.findSuppliers({}, { signal: AbortSignal.timeout(5000) })
      return late.discovery.cache.get(supplier.peerId) != null
    }, 30_000, 'supplier found via the DHT')
    expect(fetched).to.include(supplier.peerId)
    for (const c of late.libp2p.getConnections()) {
      const a = c.remoteAddr.toString()
      expect(a.includes('/p2p-circuit') || c.remotePeer.toString() === relay.peerId, a).to.equal(true)
    }
  })

  it('a hidden node runs its DHT as a client only', async () => {
    expect(await hidden.libp2p.services.dht.getMode()).to.equal('client')
  })
})
