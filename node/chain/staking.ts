/** Supplier registration and stake. Also the p2p layer's StakeChecker. */
import type { Address, Hex, TransactionReceipt } from 'viem'
import type { ChainContext } from './context.ts'
import { bytes, self } from './context.ts'
import type { TokenApi } from './token.ts'
import type { AbortOptions, SendOptions } from './tx.ts'
import type { StakeInfo, SupplierInfo } from './types.ts'

export interface RegisterParams {
  /** libp2p peer id as bytes (binary multihash). */
  peerId: Uint8Array | Hex
  /** Bytes offered. */
  capacity: bigint
  /** Asking price in token base units per byte per period. */
  pricePerBytePeriod: bigint
}

export class StakingApi {
  private readonly ctx: ChainContext
  private readonly token: TokenApi
  constructor (ctx: ChainContext, token: TokenApi) { this.ctx = ctx; this.token = token }

  get address (): Address { return this.ctx.contracts.staking }

  private async read<T> (functionName: string, args: readonly unknown[] = [], options: AbortOptions = {}): Promise<T> {
    return await this.ctx.tx.read<T>({ address: this.address, abi: this.ctx.abis.staking, functionName, args }, options)
  }

  private async write (functionName: string, args: readonly unknown[], options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.ctx.tx.write({ address: this.address, abi: this.ctx.abis.staking, functionName, args }, options)
  }

  async register (params: RegisterParams, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('register', [bytes(params.peerId), params.capacity, params.pricePerBytePeriod], options)
  }

  /** Adds `amount` to the signer's stake: with a permit (one transaction) unless `usePermit` is false. */
  async stake (amount: bigint, options: SendOptions & { usePermit?: boolean } = {}): Promise<TransactionReceipt> {
    if (options.usePermit === false) {
      await this.token.ensureAllowance(this.address, amount, options)
      return await this.write('stake', [amount], options)
    }
    const p = await this.token.signPermit(this.address, amount, options)
    return await this.write('stakeWithPermit', [amount, p.deadline, p.v, p.r, p.s], options)
  }

  async requestUnbond (amount: bigint, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('requestUnbond', [amount], options)
  }

  async withdraw (options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('withdraw', [], options)
  }

  async isRegistered (supplier?: Address, options: AbortOptions = {}): Promise<boolean> {
    return await this.read('isRegistered', [self(this.ctx, supplier)], options)
  }

  async supplier (supplier?: Address, options: AbortOptions = {}): Promise<SupplierInfo> {
    return await this.read('supplier', [self(this.ctx, supplier)], options)
  }

  async stakeInfo (supplier?: Address, options: AbortOptions = {}): Promise<StakeInfo> {
    return await this.read('stakeOf', [self(this.ctx, supplier)], options)
  }

  /**
   * StakeChecker (node/p2p): the stake backing a supplier's offers, i.e. staked minus what is
   * already on its way out (unbonding). Locked collateral counts: it is still at risk.
   */
  async stakeOf (supplier: Address, options: AbortOptions = {}): Promise<bigint> {
    const s = await this.stakeInfo(supplier, options)
    return s.staked > s.unbonding ? s.staked - s.unbonding : 0n
  }

  async freeStake (supplier?: Address, options: AbortOptions = {}): Promise<bigint> {
    return await this.read('freeStake', [self(this.ctx, supplier)], options)
  }

  async totalStaked (options: AbortOptions = {}): Promise<bigint> {
    return await this.read('totalStaked', [], options)
  }

  async unbondingBlocks (options: AbortOptions = {}): Promise<bigint> {
    return await this.read('unbondingBlocks', [], options)
  }
}
