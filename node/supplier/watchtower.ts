/**
 * Suppliers watch each other's period proofs. The contract slashes a missed period only when
 * someone marks it (markMissed, which pays the marker a share of the slash). A consumer's keeper
 * marks its own holders, but a consumer may be offline for weeks, and then a supplier that stopped
 * proving would keep its slots, unslashed and unrepaired. So each supplier, once per period, looks
 * at the last period of a few others and marks their misses. Who watches whom is drawn from the
 * period and both addresses, so that each supplier is watched by about WATCHERS others whatever
 * the size of the network: a few chain reads per supplier per period, not one per supplier known.
 * Misses marked by anyone jail a supplier after missesToJail in a row, and its slots are then
 * repaired by the others (SupplierService.repairJailed).
 */
import { concat, keccak256, toHex } from 'viem'
import type { Address } from 'viem'
import { log } from '../log.ts'

const logger = log('supplier:watch')

/** Watchers per supplier per period, on average. */
export const WATCHERS = 3

/** Whether `watcher` looks at `watched`'s proofs in `period`, among `suppliers` suppliers in all. */
export function watches (period: bigint, watcher: Address, watched: Address, suppliers: number, watchers = WATCHERS): boolean {
  const others = suppliers - 1
  if (others <= watchers) return true
  // 52 bits of the hash: exact in a double, uniform in [0, 1).
  const rank = Number(BigInt(keccak256(concat([toHex(period, { size: 32 }), watcher, watched]))) >> 204n) / 2 ** 52
  return rank < watchers / others
}

export interface WatchChain {
  /** Whether markMissed would take the period: owed, neither proven nor marked yet. */
  markable: (supplier: Address, period: bigint) => Promise<boolean>
  /** False if the contract refused (the supplier owed no proof, was jailed, or someone marked it first). */
  markMissed: (supplier: Address, period: bigint) => Promise<boolean>
}

export class Watchtower {
  private readonly chain: WatchChain
  private readonly self: Address
  private readonly known: () => Address[]
  /** The period whose round is done: a round is once per period. */
  private done = -1n

  /** `known`: the suppliers this node knows of (their offers). */
  constructor (chain: WatchChain, self: Address, known: () => Address[]) {
    this.chain = chain
    this.self = self
    this.known = known
  }

  /**
   * In `period`, the proofs of `period - 1` (whose window has closed) of the suppliers this one
   * watches. Returns the misses it marked. A round that failed halfway is done again.
   */
  async round (period: bigint): Promise<number> {
    if (period === 0n || period <= this.done) return 0
    const last = period - 1n
    const me = this.self.toLowerCase()
    const others = [...new Set(this.known().map((a) => a.toLowerCase()))].filter((a) => a !== me) as Address[]
    let marked = 0
    for (const a of others) {
      if (!watches(period, this.self, a, others.length + 1)) continue
      if (!await this.chain.markable(a, last)) continue
      if (await this.chain.markMissed(a, last)) {
        marked++
        logger('marked period %d of %s missed', last, a)
      }
    }
    this.done = period
    return marked
  }
}
