/**
 * Narrow views of BitDustChain shaped like the interfaces the supplier and consumer modules declare
 * (node/supplier/types.ts SupplierChain, node/consumer UploadChain and WatchChain). They are built
 * structurally, without importing those modules, so the dependency still points from them to here;
 * test/node/chain/views.test.ts checks the shapes with the compiler.
 */
import { zeroAddress } from 'viem'
import type { Address, Hex } from 'viem'
import type { BitDustChain } from './client.ts'
import { MarketApi } from './market.ts'
import type { AbortOptions } from './tx.ts'
import { ContractRevertError } from './errors.ts'
import { cached } from '../util/memo.ts'
import type { PeriodOutcome } from './types.ts'
import { slotIdOf, toHex } from '../proofs/challenge.ts'

export interface SlotRef { dealId: Hex, index: number }

function signerOf (chain: BitDustChain): Address {
  const a = chain.address
  if (a === undefined) throw new Error('This chain connection is read-only: give it a private key')
  return a
}

/** What a supplier's prover needs. */
export function supplierView (chain: BitDustChain) {
  const m = chain.market
  const address = signerOf(chain)
  const slotIds = new Map<string, Hex>()
  const slotIdOf = (slot: SlotRef): Hex => {
    return cached(slotIds, `${slot.dealId}:${slot.index}`, () => slotIdLocal(slot))
  }
  type Clock = { genesisBlock: bigint, periodBlocks: bigint, proofWindow: bigint, challengeWindow: bigint }
  /** Fixed at deployment: read once (again only after a failed read). */
  let clock: Promise<Clock> | undefined
  const schedule = async (): Promise<Clock> => await (clock ??= (async () => {
    const [genesisBlock, c] = await Promise.all([m.genesisBlock(), m.config()])
    return { genesisBlock, periodBlocks: c.periodBlocks, proofWindow: c.proofWindow, challengeWindow: c.challengeWindow }
  })().catch((err: unknown) => { clock = undefined; throw err }))
  return {
    address,
    blockNumber: async (): Promise<bigint> => await chain.blockNumber(),
    /** The market's clock (fixed at deployment), so a prover can tell the period from a block number. */
    schedule,
    currentPeriod: async (): Promise<bigint> => await m.currentPeriod(),
    proofWindow: async (period: bigint): Promise<{ opens: bigint, closes: bigint }> => {
      const start = await m.periodStartBlock(period)
      return { opens: start + 1n, closes: start + (await schedule()).proofWindow }
    },
    obligation: async (): Promise<{ slots: number, from: bigint, lastProven?: bigint }> => {
      const s = await m.supplierState(address)
      return { slots: s.slotCount, from: BigInt(s.obligedFrom), ...(s.proofsGiven > 0n ? { lastProven: BigInt(s.lastProven) } : {}) }
    },
    isProven: async (period: bigint): Promise<boolean> => await m.isProven(address, period),
    periodSamples: async (period: bigint): Promise<Array<{ slotId: Hex, segment: number }>> => {
      const s = await m.periodSamples(address, period)
      return s.slotIds.map((slotId, j) => ({ slotId, segment: Number(s.segments[j]) }))
    },
    provePeriod: async (period: bigint, proof: Uint8Array): Promise<void> => { await m.provePeriod(period, proof) },
    fillSegment: async (slot: SlotRef, seedBlock: bigint): Promise<number> => Number(await m.fillSegment(slot.dealId, slot.index, address, seedBlock)),
    fillSlot: async (slot: SlotRef, seedBlock: bigint, proof: Uint8Array): Promise<void> => { await m.fillSlot(slot.dealId, slot.index, seedBlock, proof) },
    /** Pending challenges on this supplier's slots, found from ChallengeIssued events of the last challenge window. */
    openChallenges: async (known?: bigint): Promise<Array<SlotRef & { segment: number, deadlineBlock: bigint }>> => {
      const head = known ?? await chain.blockNumber()
      const window = (await schedule()).challengeWindow
      const from = head > window + 1n ? head - window - 1n : chain.deployBlock
      const events = await chain.getEvents({ fromBlock: from > chain.deployBlock ? from : chain.deployBlock, toBlock: head, contracts: ['market'], eventNames: ['ChallengeIssued'], where: { supplier: address } })
      const out: Array<SlotRef & { segment: number, deadlineBlock: bigint }> = []
      for (const e of events) {
        if (String(e.args.supplier).toLowerCase() !== address.toLowerCase()) continue
        const dealId = e.args.dealId as Hex
        const index = Number(e.args.index)
        const deadlineBlock = e.args.deadlineBlock as bigint
        if (deadlineBlock < head) continue
        const c = await m.getChallenge(dealId, index)
        if (c.challenger === zeroAddress || c.issuedBlock !== e.blockNumber) continue
        out.push({ dealId, index, segment: Number(e.args.segment), deadlineBlock })
      }
      return out
    },
    answerChallenge: async (slot: SlotRef, proof: Uint8Array): Promise<void> => { await m.answerChallenge(slot.dealId, slot.index, proof) },
    slotId: slotIdOf,
  }
}

/** slotId(dealId, index) as the market computes it (node/proofs/challenge.ts; checked by the tests). */
export function slotIdLocal (slot: SlotRef): Hex {
  return toHex(slotIdOf(slot.dealId, slot.index))
}

export interface DealTermsLike { k: number, m: number, fragmentSize: bigint, periods: number, price: bigint, collateralPerByte: bigint }

/** What a consumer's upload needs. */
export function uploadView (chain: BitDustChain) {
  const m = chain.market
  const holders = async (dealId: Hex, only?: number[]): Promise<Array<Address | undefined>> => {
    let indices = only
    if (indices === undefined) {
      const d = await m.getDeal(dealId)
      indices = Array.from({ length: d.dataSlots + d.paritySlots }, (_, i) => i)
    }
    const slots = await Promise.all(indices.map(async (i) => await m.getSlot(dealId, i)))
    const out: Array<Address | undefined> = []
    indices.forEach((i, j) => { const h = slots[j]?.holder; out[i] = h === undefined || h === zeroAddress ? undefined : h })
    // Indexed by slot; slots not read are undefined (Array.from fills the holes).
    return Array.from(out)
  }
  const address = signerOf(chain)
  return {
    address,
    dealIdFor: (salt: Hex): Hex => MarketApi.dealIdOf(address, salt),
    openDeal: async (terms: DealTermsLike, roots: Hex[], salt: Hex, signal?: AbortSignal): Promise<Hex> => {
      const options: AbortOptions = signal !== undefined ? { signal } : {}
      const params = { dataSlots: terms.k, paritySlots: terms.m, fragmentSize: terms.fragmentSize, durationPeriods: terms.periods, pricePerBytePeriod: terms.price, collateralPerByte: terms.collateralPerByte }
      return (await m.openDeal(params, salt, roots, options)).dealId
    },
    slotHolders: holders,
    /** Slots filled in blocks fromBlock..toBlock: one eth_getLogs, filtered by the endpoint. */
    fillsBetween: async (dealId: Hex, fromBlock: bigint, toBlock: bigint): Promise<Array<{ index: number, holder: Address }>> => {
      if (fromBlock > toBlock) return [] // some endpoints refuse a reversed range
      const events = await chain.getEvents({ fromBlock, toBlock, contracts: ['market'], eventNames: ['SlotFilled'], where: { dealId } })
      return events.map((e) => ({ index: Number(e.args.index), holder: e.args.supplier as Address }))
    },
    blockNumber: async (): Promise<bigint> => await chain.blockNumber(),
    deadlineBlock: async (dealId: Hex): Promise<bigint> => (await m.getDeal(dealId)).deadlineBlock,
  }
}

/** A transaction the contract may refuse for a reason that settles the matter: false if it did. */
async function unlessRefused (send: () => Promise<unknown>): Promise<boolean> {
  try {
    await send()
    return true
  } catch (err) {
    if (err instanceof ContractRevertError) return false
    throw err
  }
}

/** What the consumer's keeper needs. */
export function keeperView (chain: BitDustChain) {
  const m = chain.market
  let window: Promise<bigint> | undefined
  return {
    currentPeriod: async (): Promise<bigint> => await m.currentPeriod(),
    blockNumber: async (): Promise<bigint> => await chain.blockNumber(),
    challengeWindow: async (): Promise<bigint> => await (window ??= m.config().then((c) => c.challengeWindow, (err: unknown) => { window = undefined; throw err })),
    slotHolders: uploadView(chain).slotHolders,
    periodOutcome: async (holder: Address, period: bigint): Promise<PeriodOutcome> => await periodOutcome(m, holder, period),
    markable: async (holder: Address, period: bigint): Promise<boolean> => await periodOutcome(m, holder, period, true) === 'open',
    markMissed: async (holder: Address, period: bigint): Promise<boolean> => await unlessRefused(async () => await m.markMissed(holder, period)),
    challenge: async (dealId: Hex, slot: number): Promise<{ challenger: Address, issuedBlock: bigint }> => await m.getChallenge(dealId, slot),
    expireChallenge: async (dealId: Hex, slot: number): Promise<boolean> => await unlessRefused(async () => await m.expireChallenge(dealId, slot)),
  }
}

/** What a consumer's spot checks need. */
export function watchView (chain: BitDustChain) {
  const m = chain.market
  return {
    holderOf: async (dealId: Hex, slot: number): Promise<Address | undefined> => {
      const h = (await m.getSlot(dealId, slot)).holder
      return h === zeroAddress ? undefined : h
    },
    challengePending: async (dealId: Hex, slot: number): Promise<boolean> => (await m.getChallenge(dealId, slot)).challenger !== zeroAddress,
    challengeSlot: async (dealId: Hex, slot: number): Promise<void> => { await m.challengeSlot(dealId, slot) },
  }
}

/**
 * Mirrors markMissed's checks from one read of the supplier's state: a period it proved last, or
 * one it owed nothing for, costs no second read, and a mark the contract would refuse is never
 * estimated (a supplier's first periods after its first fill owe nothing). `markable`: only
 * whether a mark would be taken, so a period before the last proven one is not read further
 * (a watcher's round often comes after the supplier proved the new period).
 */
async function periodOutcome (m: MarketApi, holder: Address, period: bigint, markable = false): Promise<PeriodOutcome> {
  const st = await m.supplierState(holder)
  if (st.jailed || st.slotCount === 0 || period < BigInt(st.obligedFrom)) return 'not due'
  if (st.proofsGiven !== 0n && period <= BigInt(st.lastProven)) {
    if (period === BigInt(st.lastProven)) return 'proven'
    return !markable && await m.isProven(holder, period) ? 'proven' : 'not due'
  }
  return await m.isMarkedMissed(holder, period) ? 'missed' : 'open'
}
