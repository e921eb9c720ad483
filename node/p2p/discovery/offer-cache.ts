/**
 * Offers a consumer has heard, from gossip and from the DHT. Only offers that verify, are not
 * expired, and whose claimed stake the chain confirms are kept; the newest offer per peer wins.
 */
import { MAX_OFFER_CACHE, STAKE_CONFIRMED_MS } from '../constants.ts'
import { InsufficientStakeError } from '../errors.ts'
import { verifyOffer } from './offers.ts'
import type { SignedSupplierOffer, SupplierOffer } from './offers.ts'
import type { AbortOptions } from '@libp2p/interface'

/** The narrow view of the chain discovery needs; node/chain implements it. */
export interface StakeChecker {
  stakeOf: (address: `0x${string}`, options?: AbortOptions) => Promise<bigint>
}

export interface OfferCacheInit {
  maxEntries?: number
  /** Offers claiming less than this stake are ignored even if the chain confirms them. */
  minStake?: bigint
  now?: () => number
  /** How long a stake the chain confirmed backs later offers of the same address (STAKE_CONFIRMED_MS). */
  stakeConfirmedMs?: number
}

export interface OfferQuery {
  minCapacity?: bigint
  maxPrice?: bigint
  limit?: number
}

export class OfferCache {
  private readonly offers = new Map<string, SignedSupplierOffer>()
  private readonly stake: StakeChecker | undefined
  private readonly maxEntries: number
  private readonly minStake: bigint
  private readonly now: () => number
  private readonly stakeConfirmedMs: number
  /** The stake the chain last reported per address (lowercase), and when. */
  private readonly confirmed = new Map<string, { stake: bigint, at: number }>()

  constructor (stake: StakeChecker | undefined, init: OfferCacheInit = {}) {
    this.stake = stake
    this.maxEntries = init.maxEntries ?? MAX_OFFER_CACHE
    this.minStake = init.minStake ?? 0n
    this.now = init.now ?? Date.now
    this.stakeConfirmedMs = init.stakeConfirmedMs ?? STAKE_CONFIRMED_MS
  }

  /** Verifies and keeps an offer; throws the reason it was refused. */
  async add (signed: SignedSupplierOffer, options: AbortOptions = {}): Promise<SupplierOffer> {
    const o = signed.offer
    const known = this.offers.get(o.peerId)
    if (known != null && known.offer.time >= o.time) return known.offer
    await verifyOffer(signed, this.now())
    if (o.stake < this.minStake) throw new InsufficientStakeError(`Supplier ${o.address} offers with stake ${o.stake}, below the required ${this.minStake}.`)
    if (this.stake != null) {
      const onChain = await this.stakeBacking(o.address as `0x${string}`, o.stake, options)
      if (onChain < o.stake || onChain < this.minStake) {
        throw new InsufficientStakeError(`Supplier ${o.address} claims stake ${o.stake} but holds ${onChain} on chain; ignoring its offer.`)
      }
    }
    this.prune()
    if (this.offers.size >= this.maxEntries && !this.offers.has(o.peerId)) {
      // Full: forget the offer closest to expiry rather than refuse fresh ones.
      let oldest: string | undefined
      let at = Infinity
      for (const [id, s] of this.offers) if (s.offer.expires < at) { at = s.offer.expires; oldest = id }
      if (oldest != null) this.offers.delete(oldest)
    }
    this.offers.set(o.peerId, signed)
    return o
  }

  /**
   * The address's stake: from a recent confirmation when that covers `claimed`, else read from
   * the chain (a claim above the last confirmation may be a stake just added).
   */
  private async stakeBacking (address: `0x${string}`, claimed: bigint, options: AbortOptions): Promise<bigint> {
    const key = address.toLowerCase()
    const known = this.confirmed.get(key)
    const now = this.now()
    if (known !== undefined && now - known.at < this.stakeConfirmedMs && known.stake >= claimed) return known.stake
    const stake = await (this.stake as StakeChecker).stakeOf(address, options)
    if (this.confirmed.size >= this.maxEntries && !this.confirmed.has(key)) {
      for (const [a, c] of this.confirmed) if (now - c.at >= this.stakeConfirmedMs) this.confirmed.delete(a)
      if (this.confirmed.size >= this.maxEntries) this.confirmed.clear()
    }
    this.confirmed.set(key, { stake, at: now })
    return stake
  }

  get (peerId: string): SupplierOffer | undefined {
    const s = this.offers.get(peerId)
    if (s == null || s.offer.expires <= this.now()) return undefined
    return s.offer
  }

  /** Live offers, cheapest first. */
  list (q: OfferQuery = {}): SupplierOffer[] {
    this.prune()
    const out = [...this.offers.values()].map((s) => s.offer)
      .filter((o) => (q.minCapacity == null || o.capacity >= q.minCapacity) && (q.maxPrice == null || o.price <= q.maxPrice))
      .sort((a, b) => (a.price < b.price ? -1 : a.price > b.price ? 1 : 0))
    return q.limit != null ? out.slice(0, q.limit) : out
  }

  get size (): number {
    return this.offers.size
  }

  prune (): void {
    const now = this.now()
    for (const [id, s] of this.offers) if (s.offer.expires <= now) this.offers.delete(id)
  }
}
