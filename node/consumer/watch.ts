/**
 * The consumer's watch over its deals, at no gas: each round it picks random (slot, segment)
 * pairs, fetches the segment with its Merkle path from the holder and checks it against the
 * slot's root. A holder that cannot answer, or answers wrong, gets a targeted challenge on chain:
 * the contract then makes it prove that slot or lose the slot's collateral (and the slot is
 * freed for repair).
 */
import { randomInt } from 'node:crypto'
import type { Address, Hex } from 'viem'
import { SEGMENT_SIZE } from '../proofs/constants.ts'
import { log } from '../log.ts'

const logger = log('consumer:watch')

export interface WatchedDeal {
  dealId: Hex
  fragmentSize: number
  roots: Hex[]
}

export interface WatchChain {
  /** The slot's holder, undefined while it is free. */
  holderOf: (dealId: Hex, slot: number) => Promise<Address | undefined>
  /** True while a targeted challenge on the slot is pending. */
  challengePending: (dealId: Hex, slot: number) => Promise<boolean>
  challengeSlot: (dealId: Hex, slot: number) => Promise<void>
}

export interface WatchNet {
  /**
   * Fetches one segment from its holder and checks it against the slot's root (the fragment get
   * protocol sends the Merkle path with a ranged read); throws when the answer is missing or wrong.
   */
  checkSegment: (holder: Address, dealId: Hex, slot: number, segment: number, root: Hex, signal?: AbortSignal) => Promise<void>
}

export type CheckOutcome =
  | { slot: number, outcome: 'ok' | 'free' | 'pending' }
  | { slot: number, outcome: 'challenged', reason: string }

export interface SpotCheckOptions {
  /** Slots checked per deal per round. */
  samples?: number
  timeoutMs?: number
  signal?: AbortSignal
}

export async function spotCheck (deal: WatchedDeal, chain: WatchChain, net: WatchNet, options: SpotCheckOptions = {}): Promise<CheckOutcome[]> {
  const n = deal.roots.length
  const segments = deal.fragmentSize / SEGMENT_SIZE
  const slots = pick(n, Math.min(options.samples ?? 1, n))
  const out: CheckOutcome[] = []
  for (const slot of slots) {
    // Only the sampled slots are read: one call each, whatever the deal's width.
    const holder = await chain.holderOf(deal.dealId, slot)
    if (holder === undefined) { out.push({ slot, outcome: 'free' }); continue }
    if (await chain.challengePending(deal.dealId, slot)) { out.push({ slot, outcome: 'pending' }); continue }
    const segment = randomInt(segments)
    let reason: string | undefined
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs ?? 30_000), ...(options.signal ? [options.signal] : [])])
      await net.checkSegment(holder, deal.dealId, slot, segment, deal.roots[slot] as Hex, signal)
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      reason = `bad or no answer for segment ${segment}: ${(err as Error).message}`
    }
    if (reason === undefined) { out.push({ slot, outcome: 'ok' }); continue }
    logger('deal %s slot %d: %s; challenging on chain', deal.dealId, slot, reason)
    await chain.challengeSlot(deal.dealId, slot)
    out.push({ slot, outcome: 'challenged', reason })
  }
  return out
}

function pick (n: number, count: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i)
  for (let i = all.length - 1; i > 0; i--) {
    const j = randomInt(i + 1)
    const t = all[i] as number
    all[i] = all[j] as number
    all[j] = t
  }
  return all.slice(0, count)
}
