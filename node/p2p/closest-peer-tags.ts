/**
 * Quieter upkeep of the DHT's closest-peer tags. kad-dht (16.x) re-tags the peers closest to us
 * every 5 s: it builds a PeerSet of the current closest peers and diffs it both ways against the
 * last one. A PeerSet keeps peer ids as strings and turns each back into a PeerId as it iterates,
 * which for a secp256k1 identity decompresses its public key (a modular square root in pure JS).
 * In steady state the set never changes, yet this was the largest single item of an idle
 * supplier's CPU (~9 % of its main thread, perf on the 10+4 devnet). The set is compared by its
 * ids first, and the library's update runs only when it differs. The library offers no option
 * for the interval (kad-dht does not pass closestPeerSetRefreshInterval on).
 */

interface PeerLike { toString: () => string }
interface Tagger {
  newPeers?: { peers: Array<{ peer: { id: PeerLike } }> }
  updatePeerTags: () => Promise<void>
  [LAST]?: string
}

const LAST = Symbol('bitdust:lastClosestPeers')
const PATCHED = Symbol('bitdust:quietClosestPeerTags')

/** Updates run and skipped (tests read these). */
export const closestPeerTagStats = { updates: 0, skipped: 0 }

/** The DHT service's closest-peer tagger, found by the library's field names (undefined if they moved). */
export function closestPeerTagger (dht: unknown): Tagger | undefined {
  const tagger = (dht as { routingTable?: { closestPeerTagger?: unknown } } | undefined)?.routingTable?.closestPeerTagger
  return typeof (tagger as Tagger | undefined)?.updatePeerTags === 'function' ? tagger as Tagger : undefined
}

/** Installs the check on the tagger's class (once); false if the DHT does not look as expected. */
export function quietClosestPeerTags (dht: unknown): boolean {
  const tagger = closestPeerTagger(dht)
  if (tagger === undefined) return false
  const proto = Object.getPrototypeOf(tagger) as Tagger & { [PATCHED]?: true }
  if (proto[PATCHED] === true) return true
  const original = proto.updatePeerTags
  proto.updatePeerTags = async function (this: Tagger): Promise<void> {
    const key = (this.newPeers?.peers ?? []).map(({ peer }) => peer.id.toString()).join(',')
    if (key === this[LAST]) { closestPeerTagStats.skipped++; return }
    await original.call(this)
    // Remembered only once the tags were written, so a failed update is tried again.
    this[LAST] = key
    closestPeerTagStats.updates++
  }
  proto[PATCHED] = true
  return true
}
