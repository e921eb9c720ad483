/**
 * A supplier's queue of slots to repair. A slot freed on chain is tried in this supplier's wave
 * (wave.ts), and again later while nobody has filled it: one that no supplier could take when it
 * was freed (every other supplier already held a fragment of the deal, or was full, or a fetch
 * failed) is still worth its bounty. Each try reads the slot first and stops there if it was
 * filled. A supplier that starts, or comes back from leaving, looks back for such slots. Only the
 * first MAX_WAVE waves of suppliers queue a slot at all.
 */
import { zeroAddress } from 'viem'
import type { Address, Hex } from 'viem'
import { log } from '../log.ts'
import { BoundedMap } from '../util/bounded-map.ts'
import { RepairNotOursError } from './index.ts'
import type { SlotRef } from './index.ts'
import { WAVE_MS, repairWave } from './wave.ts'

const logger = log('repair:queue')

/** First retry after a failed try; doubles up to RETRY_MAX_MS. */
export const RETRY_MS = 30_000
export const RETRY_MAX_MS = 30 * 60_000
/** Tries per slot (about 2 h of them) before it is left to others. */
export const TRIES = 8
/** Slots queued at once: the oldest go first when more are freed. */
const QUEUE_LIMIT = 256
/**
 * The last wave that queues a slot: by then about FIRST_WAVE × (2^(MAX_WAVE+1) − 1) suppliers,
 * ~250, have had their turn, each able to take it. The rest of the network neither queues nor
 * reads the slot, so what a freed slot costs the network stays the same however large it grows,
 * and what it costs one supplier shrinks as the network grows.
 */
export const MAX_WAVE = 5

export interface RepairQueueDeps {
  self: Address
  slotId: (ref: SlotRef) => Hex
  /** Suppliers this node knows of (sets the waves). */
  suppliers: () => number
  /** The slot's holder now (zero when free). */
  holderOf: (ref: SlotRef) => Promise<Address>
  /** Whether the slot's deal runs (a slot of a deal that is over needs no repair). */
  active: (dealId: Hex) => Promise<boolean>
  /** Slots freed lately, for a look back. */
  freedLately: () => Promise<SlotRef[]>
  /** The repair itself; throws when it could not be done (RepairNotOursError: not for us to do). */
  repair: (ref: SlotRef) => Promise<void>
  /** No repairs while this says so (a supplier leaving the network). */
  paused: () => boolean
  /** Chain errors that settle the matter (the slot was filled, the deal is over). */
  settles?: (err: Error & { errorName?: string }) => boolean
}

interface Entry { ref: SlotRef, next: number, wait: number, holder: Address, tries: number }

export class RepairQueue {
  private readonly d: RepairQueueDeps
  private readonly open = new BoundedMap<string, Entry>(QUEUE_LIMIT)
  private readonly running = new Set<string>()

  constructor (deps: RepairQueueDeps) { this.d = deps }

  get size (): number { return this.open.size }

  /**
   * A slot to repair, in this supplier's wave; nothing past MAX_WAVE. `holder`: a jailed holder
   * still named on the slot (its slots are repairable until a repair fill evicts it), else the
   * slot is free. `among`: how many suppliers are offered the slot, when they were drawn already
   * (a jailed supplier's slots go to the few that look them up), else the whole network.
   */
  want (ref: SlotRef, holder: Address = zeroAddress, among?: number): void {
    const key = keyOf(ref)
    if (this.open.has(key)) return
    const wave = this.waveOf(ref, among)
    if (wave === undefined) return
    this.open.set(key, { ref, next: Date.now() + wave * WAVE_MS, wait: RETRY_MS, holder, tries: 0 })
    this.poll()
  }

  /** This supplier's wave for the slot, or undefined past MAX_WAVE (the slot is others' to repair). */
  private waveOf (ref: SlotRef, among = this.d.suppliers()): number | undefined {
    const wave = repairWave(this.d.slotId(ref), this.d.self, among)
    return wave <= MAX_WAVE ? wave : undefined
  }

  /** Starts the tries that are due; called on every chore. */
  poll (): void {
    if (this.d.paused()) return
    const now = Date.now()
    for (const [key, e] of [...this.open.entries()]) {
      if (e.next > now || this.running.has(key)) continue
      if (++e.tries > TRIES) { this.open.delete(key); continue }
      e.next = now + e.wait
      e.wait = Math.min(e.wait * 2, RETRY_MAX_MS)
      void this.run(key, e)
    }
  }

  /** Queues the slots freed lately that are still free, on a start or a comeback. */
  lookBack (): void {
    if (this.d.paused()) return
    void (async () => {
      const seen = new Set<string>()
      for (const ref of await this.d.freedLately()) {
        const key = keyOf(ref)
        if (seen.has(key)) continue
        seen.add(key)
        if (this.waveOf(ref) === undefined) continue
        const [holder, active] = await Promise.all([this.d.holderOf(ref), this.d.active(ref.dealId)])
        if (holder === zeroAddress && active) this.want(ref)
      }
    })().catch((err: unknown) => { logger('looking for slots to repair: %s', (err as Error).message) })
  }

  private async run (key: string, e: Entry): Promise<void> {
    this.running.add(key)
    try {
      // One read before the repair's many: most suppliers of a later wave find the slot filled.
      if ((await this.d.holderOf(e.ref)).toLowerCase() !== e.holder.toLowerCase()) { this.open.delete(key); return }
      await this.d.repair(e.ref)
      this.open.delete(key)
    } catch (err) {
      const error = err as Error & { errorName?: string }
      logger('repair of %s: %s', key, error.message)
      if (err instanceof RepairNotOursError || this.d.settles?.(error) === true) this.open.delete(key)
    } finally {
      this.running.delete(key)
    }
  }
}

function keyOf (ref: SlotRef): string {
  return `${ref.dealId.toLowerCase()}:${ref.index}`
}
