/**
 * Choosing suppliers for a deal: every fragment on a different supplier (and, where offers allow,
 * different addresses), each able to take the fragment and to back its collateral, cheapest first
 * with a random tie-break so that load spreads instead of piling on one cheap node.
 */
import { randomInt } from 'node:crypto'
import type { SupplierOffer } from './types.ts'

export class NotEnoughSuppliersError extends Error {
  override name = 'NotEnoughSuppliersError'
  constructor (needed: number, found: number, reason: string, advice = 'Wait for more suppliers to come online, or lower k+m.') {
    super(`This upload needs ${needed} different suppliers but only ${found} can take it (${reason}). ${advice}`)
  }
}

export interface SelectionNeeds {
  count: number
  fragmentSize: bigint
  /** Highest price per byte per period the consumer pays. */
  maxPrice: bigint
  /** Collateral each holder must lock: collateralPerByte × fragmentSize. */
  collateral: bigint
  /** Suppliers not to use (already tried and failed, or already holding a fragment of this file). */
  exclude?: Set<string>
}

export function eligible (offers: SupplierOffer[], needs: Omit<SelectionNeeds, 'count'>): SupplierOffer[] {
  return offers.filter((o) =>
    o.capacity >= needs.fragmentSize &&
    o.price <= needs.maxPrice &&
    o.stake >= needs.collateral &&
    needs.exclude?.has(o.peerId) !== true &&
    needs.exclude?.has(o.address.toLowerCase()) !== true)
}

export function selectSuppliers (offers: SupplierOffer[], needs: SelectionNeeds): SupplierOffer[] {
  const ok = eligible(offers, needs)
  const byAddress = new Map<string, SupplierOffer>()
  for (const o of ok) {
    const key = o.address.toLowerCase()
    const seen = byAddress.get(key)
    if (seen === undefined || o.price < seen.price) byAddress.set(key, o)
  }
  const distinct = [...byAddress.values()]
    .map((o) => ({ o, r: randomInt(2 ** 30) }))
    .sort((a, b) => a.o.price === b.o.price ? a.r - b.r : (a.o.price < b.o.price ? -1 : 1))
    .map((x) => x.o)
  if (distinct.length < needs.count) {
    const { reason, advice } = shortfall(offers, needs, ok.length - distinct.length)
    throw new NotEnoughSuppliersError(needs.count, distinct.length, reason, advice)
  }
  return distinct.slice(0, needs.count)
}

/**
 * Why offers were turned down, each by the first test it failed, and what would help: the
 * remedies differ (a higher price lets dearer suppliers in, but also asks more collateral of all).
 */
function shortfall (offers: SupplierOffer[], needs: SelectionNeeds, sameAddress: number): { reason: string, advice: string } {
  const wait = 'Wait for more suppliers to come online, or lower k+m.'
  if (offers.length === 0) return { reason: 'no supplier offers have been seen yet', advice: wait }
  let excluded = 0
  let noRoom = 0
  let understaked = 0
  let unstaked = 0
  const dear: bigint[] = []
  for (const o of offers) {
    if (needs.exclude?.has(o.peerId) === true || needs.exclude?.has(o.address.toLowerCase()) === true) excluded++
    else if (o.capacity < needs.fragmentSize) noRoom++
    else if (o.price > needs.maxPrice) dear.push(o.price)
    else if (o.stake === 0n) unstaked++
    else if (o.stake < needs.collateral) understaked++
  }
  const parts: string[] = []
  const advice: string[] = []
  if (dear.length > 0) {
    const cheapest = dear.reduce((a, b) => (b < a ? b : a))
    parts.push(`${dear.length} ask more than the ${needs.maxPrice} per byte-period you offer`)
    advice.push(`Offering --price ${cheapest} would let the cheapest of those in.`)
  }
  if (understaked > 0) {
    parts.push(`${understaked} have too little free stake for the ${needs.collateral} base units of collateral a fragment asks at this price`)
    advice.push('A lower price asks less collateral.')
  }
  if (unstaked > 0) parts.push(`${unstaked} have no free stake (unbonding, or all of it backs slots they hold)`)
  if (noRoom > 0) {
    parts.push(`${noRoom} have less free space than a fragment (${needs.fragmentSize} bytes)`)
    advice.push('More data fragments (--k) make each one smaller.')
  }
  if (excluded > 0) parts.push(`${excluded} already tried or holding a fragment of this file`)
  if (sameAddress > 0) parts.push(`${sameAddress} share an account with another offer`)
  return { reason: `of ${offers.length} offers seen, ${parts.join('; ')}`, advice: [...advice, wait].join(' ') }
}
