/**
 * The consumer's keeper chores, which the contract leaves to whoever cares: marking a holder's
 * missed period (it is then slashed and, after enough misses, jailed) and expiring our
 * unanswered targeted challenges (which frees the slot for repair).
 *
 * Its chain reads grow with what changed, not with the files held: a holder's last period is
 * settled once, however many of our deals it holds and however many rounds a period lasts; a
 * deal's holders are read once per period; and only the challenges we issued are read again,
 * all of them once after a start. Reading every slot's holder and challenge of every deal each
 * round cost ~75 calls per 14-slot deal every 30 s: a consumer with a thousand files would have
 * kept an RPC endpoint busy on its own.
 */
import type { Address, Hex } from 'viem'
import { log } from '../log.ts'
import type { PeriodOutcome } from '../chain/types.ts'

const logger = log('consumer:keeper')

export interface KeeperChain {
  currentPeriod: () => Promise<bigint>
  blockNumber: () => Promise<bigint>
  /** Blocks a challenged holder has to answer. */
  challengeWindow: () => Promise<bigint>
  slotHolders: (dealId: Hex) => Promise<Array<Address | undefined>>
  /** Proven, already marked missed, not due, or open (to be marked). */
  periodOutcome: (holder: Address, period: bigint) => Promise<PeriodOutcome>
  /** Marks the period missed; false if the contract refused (e.g. the holder owed no proof). */
  markMissed: (holder: Address, period: bigint) => Promise<boolean>
  challenge: (dealId: Hex, slot: number) => Promise<{ challenger: Address, issuedBlock: bigint }>
  /** Expires an unanswered challenge; false if the contract refused (answered meanwhile). */
  expireChallenge: (dealId: Hex, slot: number) => Promise<boolean>
}

export interface KeptDeal { dealId: Hex, slots: number }

export interface KeeperReport { marked: number, expired: number }

/** How a deal's slots fared in the last period the keeper went through (for `ls`). */
export interface DealProofs {
  period: bigint
  /** Slots whose holder proved the period. */
  proven: number
  /** Slots whose holder missed it (marked, and slashed). */
  missed: number
}

type Outcome = 'proven' | 'missed' | 'not due'

export class Keeper {
  private readonly chain: KeeperChain
  private readonly me: string
  /** Per holder (lower case): the last period settled, and how. */
  private readonly settled = new Map<string, { period: bigint, outcome: Outcome }>()
  /** Per deal: how its slots fared in the last period gone through. */
  private readonly outcomes = new Map<string, DealProofs>()
  /** Per deal: the period in which its holders were last gone through. */
  private readonly keptIn = new Map<string, bigint>()
  /** Per deal: slots with a challenge of ours still open. */
  private readonly ours = new Map<string, Set<number>>()
  /** Deals whose every slot was read for challenges of ours since this process started. */
  private readonly swept = new Set<string>()

  constructor (chain: KeeperChain, me: Address) {
    this.chain = chain
    this.me = me.toLowerCase()
  }

  /** How a deal's slots fared in the last period, once a round has gone through it. */
  proofs (dealId: Hex): DealProofs | undefined {
    return this.outcomes.get(dealId.toLowerCase())
  }

  /** We just challenged this slot: it is read again each round until answered or expired. */
  challenged (dealId: Hex, slot: number): void {
    const key = dealId.toLowerCase()
    const set = this.ours.get(key) ?? new Set<number>()
    set.add(slot)
    this.ours.set(key, set)
  }

  /** One round over the active deals. A deal whose chores failed is tried again next round. */
  async round (deals: KeptDeal[]): Promise<KeeperReport> {
    const report: KeeperReport = { marked: 0, expired: 0 }
    if (deals.length === 0) return report
    const [period, head, window] = await Promise.all([this.chain.currentPeriod(), this.chain.blockNumber(), this.chain.challengeWindow()])
    for (const deal of deals) {
      try {
        report.marked += await this.markMisses(deal.dealId, period)
        report.expired += await this.expireOurs(deal, head, window)
      } catch (err) {
        logger('deal %s: %s', deal.dealId, (err as Error).message)
      }
    }
    return report
  }

  private async markMisses (dealId: Hex, period: bigint): Promise<number> {
    const key = dealId.toLowerCase()
    if (period === 0n || this.keptIn.get(key) === period) return 0
    const last = period - 1n
    let marked = 0
    const slots = await this.chain.slotHolders(dealId)
    const seen = new Map<string, Outcome>()
    for (const h of new Set(slots.filter((x): x is Address => x !== undefined))) {
      const who = h.toLowerCase()
      const known = this.settled.get(who)
      if (known?.period === last) { seen.set(who, known.outcome); continue }
      let outcome: Outcome
      const read = await this.chain.periodOutcome(h, last)
      if (read !== 'open') outcome = read
      else if (await this.chain.markMissed(h, last)) {
        outcome = 'missed'
        marked++
        logger('marked period %d of %s missed', last, h)
      } else outcome = 'not due' // the contract refused: the holder owed no proof for it
      this.settled.set(who, { period: last, outcome })
      seen.set(who, outcome)
    }
    const count = (o: Outcome): number => slots.filter((h) => h !== undefined && seen.get(h.toLowerCase()) === o).length
    this.outcomes.set(key, { period: last, proven: count('proven'), missed: count('missed') })
    this.keptIn.set(key, period)
    return marked
  }

  private async expireOurs (deal: KeptDeal, head: bigint, window: bigint): Promise<number> {
    const key = deal.dealId.toLowerCase()
    const slots = this.swept.has(key) ? [...(this.ours.get(key) ?? [])] : Array.from({ length: deal.slots }, (_, i) => i)
    let expired = 0
    for (const slot of slots) {
      const c = await this.chain.challenge(deal.dealId, slot)
      if (c.challenger.toLowerCase() !== this.me) {
        this.ours.get(key)?.delete(slot) // answered or expired: nothing pending of ours
        continue
      }
      this.challenged(deal.dealId, slot)
      if (head <= c.issuedBlock + window) continue
      if (await this.chain.expireChallenge(deal.dealId, slot)) {
        expired++
        logger('expired our challenge on slot %d of %s', slot, deal.dealId)
      }
      this.ours.get(key)?.delete(slot)
    }
    this.swept.add(key)
    return expired
  }
}
