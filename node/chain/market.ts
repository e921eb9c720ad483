/**
 * The storage market: deals, slots, period proofs, targeted challenges, repair and payouts.
 * Proof blobs are the packed format of IMarket (segment then siblings per sample); node/proofs
 * builds them, this file only carries them.
 */
import type { Address, Hex, TransactionReceipt } from 'viem'
import type { ChainContext } from './context.ts'
import { ContractRevertError } from './errors.ts'
import { bytes, self, signer } from './context.ts'
import { dealIdOf, toHex } from '../proofs/challenge.ts'
import type { TokenApi } from './token.ts'
import type { AbortOptions, SendOptions } from './tx.ts'
import { DealState, DealStatus } from './types.ts'
import type { AccountTotals, Challenge, Deal, DealId, DealParams, DealStatusName, MarketConfig, PeriodSamples, Slot, SupplierState } from './types.ts'

/** Slot ids read per call of slotsOf: 1,024 cold reads, ~2.2M gas, well inside an endpoint's cap on a call. */
const SLOT_PAGE = 1024n

type Proof = Hex | Uint8Array

export class MarketApi {
  private readonly ctx: ChainContext
  private readonly token: TokenApi
  constructor (ctx: ChainContext, token: TokenApi) { this.ctx = ctx; this.token = token }

  get address (): Address { return this.ctx.contracts.market }

  private async read<T> (functionName: string, args: readonly unknown[] = [], options: AbortOptions = {}): Promise<T> {
    return await this.ctx.tx.read<T>({ address: this.address, abi: this.ctx.abis.market, functionName, args }, options)
  }

  private async write (functionName: string, args: readonly unknown[], options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.ctx.tx.write({ address: this.address, abi: this.ctx.abis.market, functionName, args }, options)
  }

  // ------------------------------------------------------------ consumer

  /** Tokens openDeal escrows: slots × fragmentSize × price × duration. */
  static escrowOf (params: DealParams): bigint {
    return MarketApi.costOf(params.dataSlots + params.paritySlots, params.fragmentSize, params.pricePerBytePeriod, params.durationPeriods)
  }

  /** The contract's escrow formula: `slots` fragments of `fragmentSize` bytes for `periods` periods at `price` per byte-period. */
  static costOf (slots: number, fragmentSize: bigint, price: bigint, periods: number): bigint {
    return BigInt(slots) * fragmentSize * price * BigInt(periods)
  }

  /** The deal id the contract gives `consumer`'s deal with `salt` (node/proofs/challenge.ts). */
  static dealIdOf (consumer: Address, salt: Hex): DealId {
    return toHex(dealIdOf(consumer, salt))
  }

  /** Opens a deal and escrows its price: with a permit (one transaction) unless `usePermit` is false. */
  async openDeal (params: DealParams, salt: Hex, roots: Hex[], options: SendOptions & { usePermit?: boolean } = {}): Promise<{ dealId: DealId, receipt: TransactionReceipt }> {
    const consumer = signer(this.ctx).address
    const escrow = MarketApi.escrowOf(params)
    const p = params
    let receipt: TransactionReceipt
    if (options.usePermit === false) {
      await this.token.ensureAllowance(this.address, escrow, options)
      receipt = await this.write('openDeal', [p, salt, roots], options)
    } else {
      const permit = await this.token.signPermit(this.address, escrow, options)
      receipt = await this.write('openDealWithPermit', [p, salt, roots, permit.deadline, permit.v, permit.r, permit.s], options)
    }
    return { dealId: MarketApi.dealIdOf(consumer, salt), receipt }
  }

  /**
   * `periods` more periods for a filling or active deal at its price: its holders keep their
   * slots. Escrows slots × fragmentSize × price × periods more, with a permit unless `usePermit` is false.
   */
  async extendDeal (dealId: DealId, periods: number, options: SendOptions & { usePermit?: boolean } = {}): Promise<{ amount: bigint, receipt: TransactionReceipt }> {
    const d = await this.getDeal(dealId, options)
    const amount = MarketApi.costOf(d.dataSlots + d.paritySlots, d.fragmentSize, d.pricePerBytePeriod, periods)
    let receipt: TransactionReceipt
    if (options.usePermit === false) {
      await this.token.ensureAllowance(this.address, amount, options)
      receipt = await this.write('extendDeal', [dealId, BigInt(periods)], options)
    } else {
      const permit = await this.token.signPermit(this.address, amount, options)
      receipt = await this.write('extendDealWithPermit', [dealId, BigInt(periods), permit.deadline, permit.v, permit.r, permit.s], options)
    }
    return { amount, receipt }
  }

  async cancelDeal (dealId: DealId, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('cancelDeal', [dealId], options)
  }

  async finalizeDeal (dealId: DealId, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('finalizeDeal', [dealId], options)
  }

  // ------------------------------------------------------------ supplier

  /** Fills a free slot (initial fill, or a repair of a freed slot) with a proof for fillSegment(seedBlock). */
  async fillSlot (dealId: DealId, index: number, seedBlock: bigint, proof: Proof, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('fillSlot', [dealId, BigInt(index), seedBlock, bytes(proof)], options)
  }

  /**
   * Fills a slot in one step: picks a recent block as seed (the one before the latest, so that
   * the simulation, which runs at the latest block's number, sees it as past), asks the contract which segment to
   * reveal, has `prove(segment)` build the packed proof, and sends it.
   */
  async fill (dealId: DealId, index: number, prove: (segment: number) => Promise<Proof> | Proof, options: SendOptions = {}): Promise<TransactionReceipt> {
    for (let attempt = 0; ; attempt++) {
      const head = await this.ctx.tx.retry('eth_blockNumber', async () => await this.ctx.tx.publicClient.getBlockNumber({ cacheTime: 0 }), options)
      const seedBlock = head > 0n ? head - 1n : 0n
      const segment = await this.fillSegment(dealId, index, signer(this.ctx).address, seedBlock, options)
      try {
        return await this.fillSlot(dealId, index, seedBlock, await prove(Number(segment)), options)
      } catch (err) {
        // A slow proof (a large fragment read from disk) can outlive its seed: draw a new one once.
        if (attempt > 0 || !(err instanceof ContractRevertError) || err.errorName !== 'MarketSeedBlockInvalid') throw err
      }
    }
  }

  async provePeriod (period: bigint, proofs: Proof, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('provePeriod', [period, bytes(proofs)], options)
  }

  async answerChallenge (dealId: DealId, index: number, proof: Proof, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('answerChallenge', [dealId, BigInt(index), bytes(proof)], options)
  }

  async settleSlot (dealId: DealId, index: number, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('settleSlot', [dealId, BigInt(index)], options)
  }

  /** The holder gives up a slot of an active deal before it ends: the slot's collateral pays its repair. */
  async leaveSlot (dealId: DealId, index: number, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('leaveSlot', [dealId, BigInt(index)], options)
  }

  async releaseSlot (dealId: DealId, index: number, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('releaseSlot', [dealId, BigInt(index)], options)
  }

  async claim (options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('claim', [], options)
  }

  // ------------------------------------------------------------ anyone

  async markMissed (supplier: Address, period: bigint, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('markMissed', [supplier, period], options)
  }

  /** Free for the deal's consumer; others pay challengeFee (approved here when needed). */
  async challengeSlot (dealId: DealId, index: number, options: SendOptions = {}): Promise<TransactionReceipt> {
    const deal = await this.getDeal(dealId, options)
    if (deal.consumer.toLowerCase() !== signer(this.ctx).address.toLowerCase()) {
      const { challengeFee } = await this.config(options)
      if (challengeFee > 0n) await this.token.ensureAllowance(this.address, challengeFee, options)
    }
    return await this.write('challengeSlot', [dealId, BigInt(index)], options)
  }

  async expireChallenge (dealId: DealId, index: number, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('expireChallenge', [dealId, BigInt(index)], options)
  }

  // ------------------------------------------------------------ reads

  async config (options: AbortOptions = {}): Promise<MarketConfig> { return await this.read('config', [], options) }
  async genesisBlock (options: AbortOptions = {}): Promise<bigint> { return await this.read('genesisBlock', [], options) }
  async currentPeriod (options: AbortOptions = {}): Promise<bigint> { return await this.read('currentPeriod', [], options) }
  async periodStartBlock (period: bigint, options: AbortOptions = {}): Promise<bigint> { return await this.read('periodStartBlock', [period], options) }
  /** blockhash of the period's start block; zero while not yet mined (or older than 256 blocks). */
  async periodSeed (period: bigint, options: AbortOptions = {}): Promise<Hex> { return await this.read('periodSeed', [period], options) }
  async slotId (dealId: DealId, index: number, options: AbortOptions = {}): Promise<Hex> { return await this.read('slotId', [dealId, BigInt(index)], options) }

  async getDeal (dealId: DealId, options: AbortOptions = {}): Promise<Deal> {
    const d = await this.read<Omit<Deal, 'state'> & { state: number }>('getDeal', [dealId], options)
    return { ...d, state: DealState[d.state] ?? 'None' }
  }

  async dealStatus (dealId: DealId, options: AbortOptions = {}): Promise<DealStatusName> {
    return DealStatus[await this.read<number>('dealStatus', [dealId], options)] ?? 'None'
  }

  async getSlot (dealId: DealId, index: number, options: AbortOptions = {}): Promise<Slot> {
    return await this.read('getSlot', [dealId, BigInt(index)], options)
  }

  async getChallenge (dealId: DealId, index: number, options: AbortOptions = {}): Promise<Challenge> {
    return await this.read('getChallenge', [dealId, BigInt(index)], options)
  }

  async challengeSegment (dealId: DealId, index: number, options: AbortOptions = {}): Promise<bigint> {
    return await this.read('challengeSegment', [dealId, BigInt(index)], options)
  }

  async fillSegment (dealId: DealId, index: number, supplier: Address, seedBlock: bigint, options: AbortOptions = {}): Promise<bigint> {
    return await this.read('fillSegment', [dealId, BigInt(index), supplier, seedBlock], options)
  }

  async supplierState (supplier?: Address, options: AbortOptions = {}): Promise<SupplierState> {
    return await this.read('supplierState', [self(this.ctx, supplier)], options)
  }

  /** Slot ids the supplier holds, in its set order. */
  /**
   * Every slot id in a supplier's slot set, SLOT_PAGE to a call. A set that changes between two
   * pages (a removal moves its last slot into the gap) may yield a slot twice or miss one.
   */
  async slotsOf (supplier?: Address, options: AbortOptions = {}): Promise<Hex[]> {
    const who = self(this.ctx, supplier)
    const out: Hex[] = []
    for (;;) {
      const page = await this.read<readonly Hex[]>('slotsOf', [who, BigInt(out.length), SLOT_PAGE], options)
      out.push(...page)
      if (page.length < SLOT_PAGE) return out
    }
  }

  async isProven (supplier: Address, period: bigint, options: AbortOptions = {}): Promise<boolean> {
    return await this.read('isProven', [supplier, period], options)
  }

  async isMarkedMissed (supplier: Address, period: bigint, options: AbortOptions = {}): Promise<boolean> {
    return await this.read('isMarkedMissed', [supplier, period], options)
  }

  async periodSamples (supplier: Address, period: bigint, options: AbortOptions = {}): Promise<PeriodSamples> {
    const [slotIds, segments] = await this.read<readonly [Hex[], bigint[]]>('periodSamples', [supplier, period], options)
    return { slotIds: [...slotIds], segments: [...segments] }
  }

  async pendingEarnings (dealId: DealId, index: number, options: AbortOptions = {}): Promise<bigint> {
    return await this.read('pendingEarnings', [dealId, BigInt(index)], options)
  }

  async earnings (account?: Address, options: AbortOptions = {}): Promise<bigint> {
    return await this.read('earnings', [self(this.ctx, account)], options)
  }

  async totals (account?: Address, options: AbortOptions = {}): Promise<AccountTotals> {
    return await this.read('totals', [self(this.ctx, account)], options)
  }

  async totalEscrow (options: AbortOptions = {}): Promise<bigint> { return await this.read('totalEscrow', [], options) }
  async totalUnclaimed (options: AbortOptions = {}): Promise<bigint> { return await this.read('totalUnclaimed', [], options) }
}
