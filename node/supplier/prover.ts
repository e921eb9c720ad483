/**
 * The supplier's duty each period: answer the sampled challenge over all its slots in one
 * transaction inside the window, and answer any targeted challenge before its deadline.
 * Missing either costs collateral, so a failed attempt is retried on the next tick while the
 * window is open, and a restart simply resumes (all state is read back from the chain).
 */
import { log } from '../log.ts'
import type { Schedule, SlotRef, SupplierChain, SupplierStore } from './types.ts'

const logger = log('supplier:prover')

export interface ProverComponents {
  chain: SupplierChain
  store: SupplierStore
  /** Milliseconds since the epoch (Date.now); tests give their own clock. */
  now?: () => number
}

/**
 * A prover that has nothing to do for a while sleeps, waking at half the estimated time to its
 * next duty and never later than this. On a real chain (12 s blocks, a 240-block challenge
 * window looked at every 60 blocks, 7,200-block periods) that is one block-number read a minute
 * instead of one a second: an RPC endpoint is paid per call, and an idle supplier made ~86,000
 * of them a day.
 */
export const MAX_SLEEP_MS = 60_000
/** Shorter sleeps are not taken: the prover's own tick is already that coarse. */
export const MIN_SLEEP_MS = 1_000

export interface ProverEvents {
  onProved?: (period: bigint, samples: number) => void
  onAnswered?: (slot: SlotRef) => void
  onError?: (what: string, err: Error) => void
}

/** Packs several proofs into the contract's layout: concatenated, no length prefixes. */
export function concatProofs (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

/** How many times a prover looks for targeted challenges during one challenge window. */
export const CHALLENGE_LOOKS_PER_WINDOW = 4n

/** Blocks between two looks for challenges: an answer then has at least 3/4 of its window left. */
export function lookEvery (s: Schedule): bigint {
  const every = s.challengeWindow / CHALLENGE_LOOKS_PER_WINDOW
  return every > 1n ? every : 1n
}

/** The period a block falls in and the block that period started at; undefined before genesis. */
export function periodAt (s: Pick<Schedule, 'genesisBlock' | 'periodBlocks'>, block: bigint): { period: bigint, start: bigint } | undefined {
  if (block < s.genesisBlock) return undefined
  const period = (block - s.genesisBlock) / s.periodBlocks
  return { period, start: s.genesisBlock + period * s.periodBlocks }
}

export class Prover {
  private readonly chain: SupplierChain
  private readonly store: SupplierStore
  private readonly events: ProverEvents
  private readonly answered = new Set<string>()
  private readonly slotsById = new Map<string, SlotRef>()
  /** Last period known proven (or with nothing to prove): no chain reads until the next one. */
  private settled = -1n
  /** The block at which a whole tick last succeeded: nothing can be new until the next block. */
  private quietAt: bigint | undefined
  /** The block of the last look for targeted challenges that succeeded. */
  private challengesReadAt: bigint | undefined

  private readonly now: () => number
  /** No chain reads before this time (see MAX_SLEEP_MS); 0 when awake. */
  private wakeAt = 0
  /** The last new block seen and when, for the block-time estimate. */
  private seen: { block: bigint, at: number } | undefined
  /** Milliseconds per block, leaning to the fastest recently seen (a faster chain wakes us sooner). */
  private msPerBlock: number | undefined

  constructor (components: ProverComponents, events: ProverEvents = {}) {
    this.chain = components.chain
    this.store = components.store
    this.now = components.now ?? Date.now
    this.events = events
  }

  /** Remember which slot an on-chain slot id names (the contract samples by id). */
  track (slot: SlotRef): void {
    this.slotsById.set(this.chain.slotId(slot).toLowerCase(), slot)
  }

  untrack (slot: SlotRef): void {
    this.slotsById.delete(this.chain.slotId(slot).toLowerCase())
  }

  /**
   * One pass: the period proof if it is due, then targeted challenges. Safe to call often: once
   * a pass has found nothing left to do, further calls cost one block-number read until a new
   * block arrives (every read is an RPC call, and a slow chain has many ticks per block). A pass
   * that failed is retried on the next call whatever the block.
   *
   * Challenges are looked for CHALLENGE_LOOKS_PER_WINDOW times per challenge window, not at every
   * block: an answer is due within the window, each look is an eth_getLogs over all of it, and a
   * busy chain (or the devnet, which mines a block per transaction) has many blocks per second.
   */
  async tick (): Promise<void> {
    if (this.now() < this.wakeAt) return
    let block: bigint
    let schedule: Schedule
    try {
      block = await this.chain.blockNumber()
      schedule = await this.chain.schedule()
    } catch (err) {
      this.fail('block number', err)
      return
    }
    const every = lookEvery(schedule)
    this.observe(block)
    if (block === this.quietAt) return
    let ok = true
    await this.provePeriodIfDue(block).catch((err: unknown) => { ok = false; this.fail('period proof', err) })
    if (this.challengesReadAt === undefined || block >= this.challengesReadAt + every || block < this.challengesReadAt) {
      await this.answerChallenges(block).then(() => { this.challengesReadAt = block }, (err: unknown) => { ok = false; this.fail('challenge answers', err) })
    }
    if (ok) {
      this.quietAt = block
      this.sleepUntilDue(block, schedule, every)
    }
  }

  /** The estimated milliseconds per block, once two heads have been seen. */
  blockTimeMs (): number | undefined {
    return this.msPerBlock
  }

  /** Updates the block-time estimate from a block number just read. */
  private observe (block: bigint): void {
    const at = this.now()
    if (this.seen !== undefined && block < this.seen.block) { this.seen = undefined; this.msPerBlock = undefined } // a reset chain
    if (this.seen !== undefined && block > this.seen.block) {
      const sample = (at - this.seen.at) / Number(block - this.seen.block)
      const smooth = this.msPerBlock === undefined ? sample : 0.7 * this.msPerBlock + 0.3 * sample
      this.msPerBlock = Math.min(smooth, sample)
    }
    if (this.seen === undefined || block > this.seen.block) this.seen = { block, at }
  }

  /**
   * After a pass that left nothing undone: sleep until about half-way to the next block at which
   * there is work (the next period's proof window, the next look for challenges). Halving keeps
   * a chain that speeds up (or the devnet, mining a block per transaction) from outrunning us.
   */
  private sleepUntilDue (block: bigint, s: Schedule, every: bigint): void {
    this.wakeAt = 0
    if (this.msPerBlock === undefined) return
    const at = periodAt(s, block)
    let nextProof: bigint
    if (at === undefined) nextProof = s.genesisBlock + 1n
    else if (at.period <= this.settled || block > at.start + s.proofWindow) nextProof = at.start + s.periodBlocks + 1n
    else if (block < at.start + 1n) nextProof = at.start + 1n
    else return // its window is open and the proof is not settled: look again next tick
    const nextLook = (this.challengesReadAt ?? block) + every
    const due = nextProof < nextLook ? nextProof : nextLook
    if (due <= block) return
    const ms = Math.min(MAX_SLEEP_MS, Number(due - block) * this.msPerBlock / 2)
    if (ms >= MIN_SLEEP_MS) this.wakeAt = this.now() + ms
  }

  /**
   * Proves the current period if its window is open and it is not proven yet. The clock is read
   * once, so an idle tick costs one block-number call: proofs have a window of a few blocks and
   * must not queue behind a busy RPC endpoint.
   */
  async provePeriodIfDue (head?: bigint): Promise<boolean> {
    const schedule = await this.chain.schedule()
    const block = head ?? await this.chain.blockNumber()
    const at = periodAt(schedule, block)
    if (at === undefined || at.period <= this.settled) return false
    const { period, start } = at
    // The seed is the hash of the period's first block: it must exist before we can answer.
    if (block < start + 1n || block > start + schedule.proofWindow) return false
    // A period it is not obliged to prove earns nothing: no transaction for it.
    const duty = await this.chain.obligation()
    // Proven already (by this node before a restart): its last proven period is this one.
    if (duty.slots === 0 || period < duty.from || (duty.lastProven !== undefined && duty.lastProven >= period)) {
      this.settled = period
      return false
    }
    const samples = await this.chain.periodSamples(period)
    const parts: Uint8Array[] = []
    for (const s of samples) {
      const slot = this.slotsById.get(s.slotId.toLowerCase())
      if (slot === undefined) throw new Error(`the contract samples slot ${s.slotId}, which this supplier does not know`)
      parts.push(await this.store.proof(slot, s.segment))
    }
    await this.chain.provePeriod(period, concatProofs(parts))
    this.settled = period
    logger('proved period %d with %d samples at block %d (window %d-%d)', period, samples.length, block, start + 1n, start + schedule.proofWindow)
    this.events.onProved?.(period, samples.length)
    return true
  }

  /** `head`: the block the caller just read, so that a tick reads it once. */
  async answerChallenges (head?: bigint): Promise<number> {
    let n = 0
    for (const c of await this.chain.openChallenges(head)) {
      const key = `${c.dealId}:${c.index}:${c.deadlineBlock}`
      if (this.answered.has(key)) continue
      const proof = await this.store.proof(c, c.segment)
      await this.chain.answerChallenge(c, proof)
      this.answered.add(key)
      this.events.onAnswered?.(c)
      n++
    }
    return n
  }

  /**
   * Fill a slot we just stored: prove a segment chosen by a recent block we name. The block
   * before the head, because the contract only accepts a seed block it can already hash.
   */
  async fill (slot: SlotRef): Promise<void> {
    const head = await this.chain.blockNumber()
    const seedBlock = head > 0n ? head - 1n : 0n
    const segment = await this.chain.fillSegment(slot, seedBlock)
    const proof = await this.store.proof(slot, segment)
    await this.chain.fillSlot(slot, seedBlock, proof)
    this.track(slot)
  }

  private fail (what: string, err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err))
    logger('%s failed: %s', what, e.message)
    this.events.onError?.(what, e)
  }
}
