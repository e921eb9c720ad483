import { expect } from 'chai'
import { closestPeerTagger, closestPeerTagStats } from '../../../node/p2p/closest-peer-tags.ts'
import { Cleanup, startNode } from './helpers/nodes.ts'

describe('p2p: the DHT re-tags its closest peers only when they change', function () {
  this.timeout(60_000)
  const cleanup = new Cleanup()
  afterEach(async () => { await cleanup.run() })

  it('skips the library\'s update (and its key decompressions) for an unchanged set, and tags a new closest peer', async () => {
    const a = await startNode(cleanup)
    const b = await startNode(cleanup)
    const tagger = closestPeerTagger((a.libp2p.services as Record<string, unknown>).dht) as unknown as {
      newPeers: { add: (p: { id: unknown, multiaddrs: unknown[] }) => Promise<void> }
      closestPeers: { difference: (other: unknown) => unknown }
      updatePeerTags: () => Promise<void>
    }
    expect(tagger, 'kad-dht still has routingTable.closestPeerTagger').not.to.equal(undefined)
    // What the library does on every update: diff the sets (each iteration rebuilds PeerIds).
    let diffs = 0
    const spy = (): void => {
      const set = tagger.closestPeers
      const diff = set.difference.bind(set)
      set.difference = (other: unknown) => { diffs++; return diff(other) }
    }
    await tagger.newPeers.add({ id: b.libp2p.peerId, multiaddrs: [] })
    const updates = closestPeerTagStats.updates
    await tagger.updatePeerTags()
    expect(closestPeerTagStats.updates).to.equal(updates + 1)
    const tags = (await a.libp2p.peerStore.get(b.libp2p.peerId)).tags
    expect(tags.get('kad-close')?.value).to.equal(50)

    spy()
    const skipped = closestPeerTagStats.skipped
    await tagger.updatePeerTags()
    await tagger.updatePeerTags()
    expect(diffs).to.equal(0)
    expect(closestPeerTagStats.skipped).to.equal(skipped + 2)
  })
})
