/**
 * Choosing suppliers for a deal: every fragment on a different supplier (and, where offers allow,
 * different addresses), each able to take the fragment and to back its collateral, cheapest first
 * with a random tie-break so that load spreads instead of piling on one cheap node.
 */
import { randomInt } from 'node:crypto'
import type { SupplierOffer } from './types.ts'

export class NotEnoughSuppliersError extends Error {
  override name = 'NotEnoughSuppliersError'
  constructor (needed: number, found: number, reason: string) {
    super(`This upload needs ${needed} different suppliers but only ${found} can take it (${reason}). ` +
      'Wait for more suppliers to come online, lower k+m, or raise the price you offer.')
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
    const reason = offers.length === 0
      ? 'no supplier offers have been seen yet'
      : `${offers.length} offers seen, ${ok.length} with room, price <= ${needs.maxPrice} and stake for the collateral`
    throw new NotEnoughSuppliersError(needs.count, distinct.length, reason)
  }
  return distinct.slice(0, needs.count)
}
