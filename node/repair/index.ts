/**
 * Repair without the owner: fragments are ciphertext, and Reed-Solomon works column by column
 * over them, so any node that can fetch k fragments of a deal can rebuild a lost one without
 * any key. A supplier that sees a slot freed on chain (its holder failed a targeted challenge
 * or was jailed) fetches k of the other fragments, rebuilds the missing one, checks it against
 * the slot's root, stores it and fills the slot with a proof; the contract pays it the bounty
 * from the slashed collateral. The first valid fill wins; a lost race costs only the fetch.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Address, Hex } from 'viem'
import { log } from '../log.ts'

const logger = log('repair')

export interface SlotRef { dealId: Hex, index: number }

export interface DealShape {
  k: number
  m: number
  fragmentSize: number
  roots: Hex[]
  /** Current holder of every slot (undefined where free). */
  holders: Array<Address | undefined>
}

export interface RepairComponents {
  self: Address
  deal: (dealId: Hex) => Promise<DealShape>
  /** Streams a holder's fragment to a file, verified against its root; throws when it cannot. */
  fetch: (holder: Address, slot: SlotRef, root: Hex, dest: string, signal?: AbortSignal) => Promise<void>
  /** Rebuilds fragment `missing` from k fragment files (index → path). */
  rebuild: (fragments: Map<number, string>, shape: { k: number, m: number, fragmentSize: number }, missing: number, dest: string) => Promise<void>
  /** Root of a fragment file (the repairer checks its own work before spending gas). */
  rootOf: (path: string) => Promise<Hex>
  /** Takes the rebuilt fragment into the local store and fills the slot on chain. */
  adopt: (slot: SlotRef, path: string, root: Hex) => Promise<void>
  tmpdir?: string
}

export class RepairError extends Error {
  override name = 'RepairError'
}

/** Nothing for this repairer to do: the slot was filled, or it holds another slot of the deal. */
export class RepairNotOursError extends RepairError {
  override name = 'RepairNotOursError'
}

export type RepairProgress = (e: { stage: 'fetch' | 'rebuild' | 'fill', done?: number, total?: number, message?: string }) => void

export async function repairSlot (slot: SlotRef, c: RepairComponents, options: { signal?: AbortSignal, onProgress?: RepairProgress } = {}): Promise<void> {
  const shape = await c.deal(slot.dealId)
  if (shape.holders[slot.index] !== undefined) throw new RepairNotOursError(`slot ${slot.index} of ${slot.dealId} is not free any more`)
  const mine = shape.holders.findIndex((h) => h?.toLowerCase() === c.self.toLowerCase())
  if (mine >= 0) throw new RepairNotOursError(`this supplier already holds slot ${mine} of ${slot.dealId}; another supplier must repair slot ${slot.index} so that fragments stay on different machines`)
  const sources = shape.holders
    .map((h, i) => ({ h, i }))
    .filter((x): x is { h: Address, i: number } => x.h !== undefined && x.i !== slot.index)
  if (sources.length < shape.k) {
    throw new RepairError(`only ${sources.length} of the ${shape.k} fragments needed to rebuild slot ${slot.index} are held by others`)
  }
  const dir = await mkdtemp(join(c.tmpdir ?? tmpdir(), 'bitdust-repair-'))
  try {
    const got = new Map<number, string>()
    // Ask everyone, keep the first k that verify: slow or lying holders do not stall the repair.
    const controller = new AbortController()
    const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal
    await Promise.allSettled(sources.map(async ({ h, i }) => {
      const dest = join(dir, `f${i}`)
      try {
        await c.fetch(h, { dealId: slot.dealId, index: i }, shape.roots[i] as Hex, dest, signal)
        if (got.size < shape.k) got.set(i, dest)
        options.onProgress?.({ stage: 'fetch', done: got.size, total: shape.k })
        if (got.size >= shape.k) controller.abort()
      } catch (err) {
        if (!signal.aborted) logger('fetch of fragment %d from %s failed: %s', i, h, (err as Error).message)
      }
    }))
    options.signal?.throwIfAborted()
    if (got.size < shape.k) throw new RepairError(`could fetch only ${got.size} of the ${shape.k} fragments needed to rebuild slot ${slot.index}`)
    options.onProgress?.({ stage: 'rebuild' })
    const out = join(dir, `rebuilt-${slot.index}`)
    await c.rebuild(got, { k: shape.k, m: shape.m, fragmentSize: shape.fragmentSize }, slot.index, out)
    const root = await c.rootOf(out)
    if (root.toLowerCase() !== (shape.roots[slot.index] as Hex).toLowerCase()) {
      throw new RepairError(`the rebuilt fragment does not match slot ${slot.index}'s root (${root} ≠ ${shape.roots[slot.index] as Hex})`)
    }
    options.onProgress?.({ stage: 'fill' })
    await c.adopt(slot, out, root)
    logger('repaired slot %d of %s', slot.index, slot.dealId)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
