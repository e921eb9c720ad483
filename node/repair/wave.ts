/**
 * Who goes first when a slot is freed. Every supplier sees the event and any of them may repair
 * the slot for its bounty, but each attempt fetches k fragments from the same k holders: with
 * thousands of suppliers, thousands of fetches for one bounty that only the first fill wins.
 * Instead each supplier draws a rank from the slot id and its own address (fixed for the pair,
 * spread evenly, and no one can pick it without picking its address first) and waits for its
 * wave: about FIRST_WAVE suppliers start at once, and each later wave, WAVE_MS apart, admits twice
 * as many. Those of a later wave read the slot first and drop it once someone has filled it, so
 * a repair costs the holders a few fetches and the others one chain read each.
 */
import { concat, keccak256 } from 'viem'
import type { Address, Hex } from 'viem'

/** Suppliers expected in the first wave. */
export const FIRST_WAVE = 4
/** Time between waves: about what a repair of a devnet fragment takes, and short next to a period. */
export const WAVE_MS = 30_000

/**
 * The wave (0 = at once) in which `self` tries to repair the slot `key` (or takes on whatever else
 * `key` names: a jailed supplier's slots), among about `suppliers` suppliers (the offers it
 * knows; 0 when it knows none, which puts everyone first), `first` of them in the first wave.
 */
export function repairWave (key: Hex, self: Address, suppliers: number, first = FIRST_WAVE): number {
  const share = suppliers <= first ? 1 : first / suppliers
  // 52 bits of the hash: exact in a double, uniform in [0, 1).
  const rank = Number(BigInt(keccak256(concat([key, self]))) >> 204n) / 2 ** 52
  return rank < share ? 0 : Math.ceil(Math.log2(rank / share))
}
