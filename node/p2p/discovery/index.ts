/**
 * Discovery without a central list: suppliers gossip signed offers on `bitdust/offers/1`, provide
 * a fixed CID in our DHT, and answer `/bitdust/offer` with their current offer; consumers collect
 * offers from gossip, from the peers they are connected to, and from DHT providers into an
 * OfferCache, and look up again only when the cache is short or stale.
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { DEFAULT_OFFER_INTERVAL_MS, DEFAULT_OFFER_TTL_MS, LOOKUP_FRESH_MS, LOOKUP_GAP_MS, LOOKUP_TIMEOUT_MS, PROTOCOL_OFFER, PROVIDE_REFRESH_MS, PROVIDE_RETRY_MS, SUPPLIERS_DHT_KEY, TOPIC_OFFERS } from '../constants.ts'
import { Framed } from '../wire/framed.ts'
import { decodeReply, ErrorReply, OfferRequest, SignedOffer } from '../wire/messages.ts'
import { OfferCache } from './offer-cache.ts'
import { signOffer, verifyOffer } from './offers.ts'
import type { OfferCacheInit, OfferQuery, StakeChecker } from './offer-cache.ts'
import type { OfferTerms, SignedSupplierOffer, SupplierOffer } from './offers.ts'
import type { Logger } from '../../log.ts'
import type { BitDustLibp2p } from '../libp2p.ts'
import type { AbortOptions, PeerId, PrivateKey, Stream } from '@libp2p/interface'

export type { OfferTerms, SignedSupplierOffer, SupplierOffer, StakeChecker, OfferQuery }
export { OfferCache, signOffer }
export { verifyOffer }

let suppliersCid: CID | undefined
/** CID of the DHT key suppliers provide under. */
export async function suppliersKey (): Promise<CID> {
  suppliersCid ??= CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(SUPPLIERS_DHT_KEY)))
  return suppliersCid
}

export interface DiscoveryInit extends OfferCacheInit {
  intervalMs?: number
  ttlMs?: number
  /** How long a provider record that reached the DHT stands before it is sent again unchanged. */
  provideRefreshMs?: number
  /** First wait before a provide that reached no peer is tried again; doubles up to intervalMs. */
  provideRetryMs?: number
  /** A lookup younger than this is not repeated for a caller the cache can already serve. */
  lookupFreshMs?: number
  /** Least time between two lookups for a caller the cache cannot serve yet (gossip fills it meanwhile). */
  lookupGapMs?: number
}

/** What findSuppliers looks for: the cache's filters, and how many offers the caller needs. */
export interface SupplierQuery extends OfferQuery {
  /** Look up (again) unless the cache holds at least this many matching offers (default 1). */
  atLeast?: number
  /** DHT providers asked for their offer in one lookup (default 64). */
  maxProviders?: number
}

export interface DiscoveryComponents {
  libp2p: BitDustLibp2p
  privateKey: PrivateKey
  stake?: StakeChecker
  log: Logger
  /** Opens a stream to a peer the way the node must (direct or through a relay). */
  openStream: (peer: string, protocol: string, options?: AbortOptions) => Promise<Stream>
  /** Addresses to put in our offer. */
  addrs: () => string[]
}

export class Discovery {
  readonly cache: OfferCache
  private readonly c: DiscoveryComponents
  private readonly intervalMs: number
  private readonly ttlMs: number
  private readonly provideRefreshMs: number
  private readonly lookupFreshMs: number
  private readonly lookupGapMs: number
  /** When the last lookup ended, and the one under way (callers share it). */
  private lookedUpAt = -Infinity
  private lookup: Promise<void> | undefined
  /** Whether we answer /bitdust/offer: only while we have an offer, so peers' identify tells who supplies. */
  private serving = false
  /** The last provide that reached at least one peer, and the addresses it carried. */
  private provided: { at: number, addrs: string } | undefined
  private providing = false
  private readonly provideRetryMs: number
  private retryIn: number
  private retryTimer: NodeJS.Timeout | undefined
  private terms: OfferTerms | undefined
  private current: SignedSupplierOffer | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly onGossip = (evt: CustomEvent<{ topic: string, data: Uint8Array }>): void => {
    if (evt.detail.topic !== TOPIC_OFFERS) return
    void this.ingest(evt.detail.data).catch((err: Error) => { this.c.log('dropped gossiped offer: %s', err.message) })
  }

  constructor (c: DiscoveryComponents, init: DiscoveryInit = {}) {
    this.c = c
    this.cache = new OfferCache(c.stake, init)
    this.intervalMs = init.intervalMs ?? DEFAULT_OFFER_INTERVAL_MS
    this.ttlMs = init.ttlMs ?? DEFAULT_OFFER_TTL_MS
    this.provideRefreshMs = init.provideRefreshMs ?? PROVIDE_REFRESH_MS
    this.provideRetryMs = init.provideRetryMs ?? PROVIDE_RETRY_MS
    this.retryIn = this.provideRetryMs
    this.lookupFreshMs = init.lookupFreshMs ?? LOOKUP_FRESH_MS
    this.lookupGapMs = init.lookupGapMs ?? LOOKUP_GAP_MS
  }

  async start (): Promise<void> {
    const pubsub = this.c.libp2p.services.pubsub
    // Forged or expired offers are neither delivered nor forwarded to the rest of the mesh
    // (stake is checked by each consumer against its own chain view).
    pubsub.topicValidators.set(TOPIC_OFFERS, async (_peer, msg) => {
      try {
        await verifyOffer(SignedOffer.decode(msg.data))
        return TopicValidatorResult.Accept
      } catch {
        return TopicValidatorResult.Reject
      }
    })
    pubsub.subscribe(TOPIC_OFFERS)
    pubsub.addEventListener('message', this.onGossip as any)
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    clearTimeout(this.retryTimer)
    const pubsub = this.c.libp2p.services.pubsub
    pubsub.removeEventListener('message', this.onGossip as any)
    pubsub.topicValidators.delete(TOPIC_OFFERS)
    try { pubsub.unsubscribe(TOPIC_OFFERS) } catch {}
    await this.stopServing()
  }

  private async stopServing (): Promise<void> {
    if (!this.serving) return
    this.serving = false
    await this.c.libp2p.unhandle(PROTOCOL_OFFER)
  }

  private async ingest (data: Uint8Array): Promise<SupplierOffer> {
    const signed = SignedOffer.decode(data)
    return await this.remember(await this.cache.add(signed))
  }

  /** Keeps the addresses of a supplier we accepted, so it can be dialled without a lookup. */
  private async remember (offer: SupplierOffer): Promise<SupplierOffer> {
    try {
      const multiaddrs = offer.addrs.map((a) => multiaddr(a))
      if (multiaddrs.length > 0) await this.c.libp2p.peerStore.merge(peerIdFromString(offer.peerId), { multiaddrs })
    } catch (err) {
      this.c.log('addresses of %s not kept: %s', offer.peerId, (err as Error).message)
    }
    return offer
  }

  /**
   * Starts (or updates) advertising this node as a supplier: publishes at once, then again every
   * intervalMs after the last publish (a publish is the refresh; they do not add up).
   */
  async publish (terms: OfferTerms): Promise<SignedSupplierOffer> {
    this.terms = terms
    if (!this.serving) {
      // Registering the protocol is announced to connected peers (identify push), which is how a
      // consumer tells suppliers from other peers without asking each one.
      this.serving = true
      await this.c.libp2p.handle(PROTOCOL_OFFER, async (stream) => { await this.serveOffer(stream) }, { runOnLimitedConnection: true })
    }
    const signed = await this.refresh()
    clearInterval(this.timer)
    this.timer = setInterval(() => { void this.refresh().catch((err: Error) => { this.c.log('offer refresh failed: %s', err.message) }) }, this.intervalMs)
    this.timer.unref()
    return signed
  }

  /** Stops advertising (the offer expires on its own elsewhere). */
  async unpublish (): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    clearTimeout(this.retryTimer)
    this.terms = undefined
    this.current = undefined
    await this.stopServing()
  }

  private async refresh (): Promise<SignedSupplierOffer> {
    if (this.terms == null) throw new Error('no offer terms')
    const signed = await signOffer(this.c.privateKey, this.c.libp2p.peerId.toString(), this.terms, this.c.addrs(), this.ttlMs)
    this.current = signed
    const pubsub = this.c.libp2p.services.pubsub
    await pubsub.publish(TOPIC_OFFERS, SignedOffer.encode(signed)).catch((err: Error) => { this.c.log('offer gossip failed: %s', err.message) })
    this.provideIfStale()
    return signed
  }

  /**
   * Offers are gossiped on every refresh, but the provider record only when no peer has taken
   * it yet, our addresses changed, or it is older than provideRefreshMs: providing is a DHT
   * lookup, far dearer than a gossip message, and the record itself does not expire for days.
   * One that reached nobody (a node that just started has no DHT peers yet) is tried again
   * after provideRetryMs, then twice as long each time, rather than at the next refresh only:
   * until then, consumers not connected to us cannot find us.
   */
  private provideIfStale (): void {
    const addrs = this.c.addrs().join(' ')
    const last = this.provided
    if (this.providing || (last !== undefined && last.addrs === addrs && Date.now() - last.at < this.provideRefreshMs)) return
    this.providing = true
    clearTimeout(this.retryTimer)
    void this.provideOnce()
      .then((reached) => {
        if (reached > 0) {
          this.provided = { at: Date.now(), addrs }
          this.retryIn = this.provideRetryMs
          return
        }
        this.c.log('DHT provide reached no peer yet')
        this.retryLater()
      })
      .catch((err: Error) => {
        this.c.log('DHT provide failed: %s', err.message)
        this.retryLater()
      })
      .finally(() => { this.providing = false })
  }

  private retryLater (): void {
    if (this.terms == null) return
    this.retryTimer = setTimeout(() => { if (this.terms != null) this.provideIfStale() }, this.retryIn)
    this.retryTimer.unref()
    this.retryIn = Math.min(this.retryIn * 2, this.intervalMs)
  }

  /** Sends our provider record to the closest peers; returns how many took it. */
  private async provideOnce (): Promise<number> {
    const cid = await suppliersKey()
    let reached = 0
    for await (const event of this.c.libp2p.services.dht.provide(cid, { signal: AbortSignal.timeout(30_000) })) {
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') reached++
    }
    return reached
  }

  private async serveOffer (stream: Stream): Promise<void> {
    const io = new Framed(stream, { idleTimeoutMs: 10_000 })
    try {
      OfferRequest.decode(await io.readFrame())
      if (this.current == null) {
        await io.writeFrame(ErrorReply.encode({ code: 'NotAcceptingError', message: 'This node does not supply storage.' }))
      } else {
        await io.writeFrame(SignedOffer.encode(this.current))
      }
      await io.closeWrite()
    } catch (err) {
      io.abort(err as Error)
    }
  }

  /** Asks one peer for its offer and caches it if it verifies. */
  async fetchOffer (peer: string, options: AbortOptions = {}): Promise<SupplierOffer> {
    const stream = await this.c.openStream(peer, PROTOCOL_OFFER, options)
    const io = new Framed(stream)
    try {
      await io.writeFrame(OfferRequest.encode({}), options)
      const signed = decodeReply(await io.readFrame(undefined, options), SignedOffer)
      await io.closeWrite(options)
      if (signed.offer.peerId !== peer) throw new Error(`peer ${peer} answered with the offer of ${signed.offer.peerId}`)
      return await this.remember(await this.cache.add(signed, options))
    } catch (err) {
      io.abort(err as Error)
      throw err
    }
  }

  /**
   * Live offers matching `query`, cheapest first. The cache (fed by gossip all along) answers on
   * its own while it holds `atLeast` matches and the last lookup is younger than lookupFreshMs;
   * otherwise this looks up once more (at most every lookupGapMs while the cache stays short):
   * a lookup asks the connected peers that serve offers and walks the DHT for providers, which
   * costs every process involved CPU and took 250–900 ms on a devnet, once or twice per upload.
   */
  async findSuppliers (query: SupplierQuery = {}, options: AbortOptions = {}): Promise<SupplierOffer[]> {
    const have = this.cache.list(query)
    const age = Date.now() - this.lookedUpAt
    if (age < (have.length >= (query.atLeast ?? 1) ? this.lookupFreshMs : this.lookupGapMs)) return have
    // Shared, so it runs on its own deadline rather than on the signal of whoever started it; a
    // caller that gives up early gets what is cached by then, as an aborted walk would give.
    this.lookup ??= this.lookUp(query.maxProviders ?? 64, { signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS) }).finally(() => {
      this.lookedUpAt = Date.now()
      this.lookup = undefined
    })
    await untilAborted(this.lookup, options.signal)
    return this.cache.list(query)
  }

  /** Fetches the offer of every connected supplier and DHT provider not already cached. */
  private async lookUp (maxProviders: number, options: AbortOptions): Promise<void> {
    const self = this.c.libp2p.peerId.toString()
    const fetches: Array<Promise<unknown>> = []
    const ask = (id: string): void => {
      if (id === self || this.cache.get(id) != null) return
      fetches.push(this.fetchOffer(id, options).catch((err: Error) => { this.c.log('offer of %s refused: %s', id, err.message) }))
    }
    // A supplier whose gossip we missed (it published before we joined) and whose provider record
    // has not reached the DHT yet is still found if we are connected to it.
    const asked = new Set<string>()
    for (const peer of this.c.libp2p.getPeers()) {
      const known = await this.c.libp2p.peerStore.get(peer).catch(() => undefined)
      if (known?.protocols.includes(PROTOCOL_OFFER) === true) { asked.add(peer.toString()); ask(peer.toString()) }
    }
    let seen = 0
    try {
      for await (const prov of this.c.libp2p.contentRouting.findProviders(await suppliersKey(), options)) {
        const id = (prov.id as PeerId).toString()
        if (asked.has(id)) continue
        asked.add(id)
        if (prov.multiaddrs.length > 0 && this.cache.get(id) == null) await this.c.libp2p.peerStore.merge(prov.id, { multiaddrs: prov.multiaddrs }).catch(() => {})
        ask(id)
        if (++seen >= maxProviders) break
      }
    } catch (err) {
      this.c.log('DHT lookup ended: %s', (err as Error).message)
    }
    await Promise.all(fetches)
  }
}

/** Waits for `work`, or until `signal` aborts (whichever comes first); an abort is not an error. */
async function untilAborted (work: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (signal === undefined) { await work; return }
  if (signal.aborted) return
  let onAbort: (() => void) | undefined
  const aborted = new Promise<void>((resolve) => {
    onAbort = () => { resolve() }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    await Promise.race([work, aborted])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}
