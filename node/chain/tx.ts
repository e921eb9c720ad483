/**
 * Sending transactions the way the node needs them sent:
 *   a fresh gas estimate (it runs the call: reverts become ContractRevertError before any gas
 *   is spent), fees and nonce on every attempt, in one round trip
 *   → sign locally, broadcast (the same signed bytes again if the endpoint drops the request)
 *   → wait for the receipt and N confirmations, polling through endpoint restarts
 *   → retry with back-off on network errors; RpcUnavailableError when the endpoint stays away.
 * Sends of one account are serialized in this process, so the pending nonce is always ours.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { encodeDeployData, encodeFunctionData, keccak256 } from 'viem'
import type { Abi, Account, Address, Chain, Hex, PublicClient, TransactionReceipt, Transport, WalletClient } from 'viem'
import { log } from '../log.ts'
import {
  CONFIRMATIONS, GAS_HEADROOM_PERCENT, POLL_INTERVAL_MS, RECEIPT_TIMEOUT_MS, RETRY_ATTEMPTS, RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS,
} from './constants.ts'
import { ContractRevertError, InsufficientFundsError, RpcUnavailableError, TransactionFailedError, TransactionTimeoutError } from './errors.ts'
import { asRevert, errorsAbi, isInsufficientFunds, isNetworkError, isNonceError } from './revert.ts'
import { cached } from '../util/memo.ts'

const debug = log('chain:tx')

export interface AbortOptions { signal?: AbortSignal }

export type TxProgress =
  | { type: 'tx:simulated', what: string }
  | { type: 'tx:sent', what: string, hash: Hex, nonce: number, gas: bigint }
  | { type: 'tx:mined', what: string, hash: Hex, blockNumber: bigint }
  | { type: 'tx:confirmed', what: string, hash: Hex, confirmations: number }
  | { type: 'tx:retry', what: string, attempt: number, reason: string }

export interface SendOptions extends AbortOptions {
  onProgress?: (event: TxProgress) => void
  /** Confirmations to wait for; default from the sender's init. */
  confirmations?: number
}

export interface ContractCall {
  address: Address
  abi: Abi
  functionName: string
  args?: readonly unknown[]
  value?: bigint
}

export interface TxSenderInit {
  confirmations?: number
  attempts?: number
  baseDelayMs?: number
  maxDelayMs?: number
  receiptTimeoutMs?: number
  pollIntervalMs?: number
  /** ABIs whose custom errors decode reverts (all BitDust contracts: a Market call may revert in the Token). */
  errorAbis?: readonly Abi[]
}

export interface TxSenderComponents {
  publicClient: PublicClient<Transport, Chain>
  /** Needed for sending; its account should be a local (private key) account. */
  walletClient?: WalletClient<Transport, Chain, Account>
  /** For error messages; default: the client's transport URL. */
  rpcUrl?: string
}

const accountLocks = new Map<string, Promise<unknown>>()

/** Runs `fn` after every earlier send of the same account has finished. */
async function serialized<T> (key: string, fn: () => Promise<T>): Promise<T> {
  const previous = accountLocks.get(key) ?? Promise.resolve()
  const run = previous.catch(() => {}).then(fn)
  const tail = run.catch(() => {})
  accountLocks.set(key, tail)
  try {
    return await run
  } finally {
    if (accountLocks.get(key) === tail) accountLocks.delete(key)
  }
}

/** Raised inside an attempt to start over with fresh gas, fees and nonce. */
class RetryAttempt extends Error {
  override name = 'RetryAttempt'
}

export class TxSender {
  readonly publicClient: PublicClient<Transport, Chain>
  readonly walletClient: WalletClient<Transport, Chain, Account> | undefined
  readonly rpcUrl: string
  private readonly confirmations: number
  private readonly attempts: number
  private readonly baseDelayMs: number
  private readonly maxDelayMs: number
  private readonly receiptTimeoutMs: number
  private readonly pollIntervalMs: number
  private errorAbi: Abi
  /** A call's ABI merged with errorAbi, per ABI: every read and write needs it to decode reverts. */
  private errorsByAbi = new WeakMap<Abi, Abi>()

  constructor (components: TxSenderComponents, init: TxSenderInit = {}) {
    this.publicClient = components.publicClient
    this.walletClient = components.walletClient
    this.rpcUrl = components.rpcUrl ?? components.publicClient.chain.rpcUrls.default.http[0] ?? 'the RPC endpoint'
    this.confirmations = init.confirmations ?? CONFIRMATIONS
    this.attempts = init.attempts ?? RETRY_ATTEMPTS
    this.baseDelayMs = init.baseDelayMs ?? RETRY_BASE_DELAY_MS
    this.maxDelayMs = init.maxDelayMs ?? RETRY_MAX_DELAY_MS
    this.receiptTimeoutMs = init.receiptTimeoutMs ?? RECEIPT_TIMEOUT_MS
    this.pollIntervalMs = init.pollIntervalMs ?? POLL_INTERVAL_MS
    this.errorAbi = errorsAbi(init.errorAbis ?? [])
  }

  /** Adds ABIs whose errors decode reverts. */
  addErrorAbis (abis: readonly Abi[]): void {
    this.errorAbi = errorsAbi([this.errorAbi, ...abis])
    this.errorsByAbi = new WeakMap()
  }

  private errorsOf (abi: Abi): Abi {
    return cached(this.errorsByAbi, abi, () => errorsAbi([abi, this.errorAbi]))
  }

  get account (): Account {
    const account = this.walletClient?.account
    if (account === undefined) throw new Error('This chain connection has no signer: give it a private key to send transactions')
    return account
  }

  /**
   * Calls `fn` until it succeeds, retrying network failures with exponential back-off.
   * Reverts and other errors are not retried: they are decoded and thrown.
   */
  async retry<T> (what: string, fn: () => Promise<T>, options: SendOptions = {}, abi: Abi = this.errorAbi): Promise<T> {
    let last: unknown
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      options.signal?.throwIfAborted()
      try {
        return await fn()
      } catch (err) {
        if (!isNetworkError(err)) throw this.translate(err, what, abi)
        last = err
        const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt)
        debug('%s: endpoint unavailable (attempt %d), retrying in %d ms', what, attempt + 1, delay)
        options.onProgress?.({ type: 'tx:retry', what, attempt: attempt + 1, reason: 'endpoint unavailable' })
        if (attempt + 1 < this.attempts) await sleep(delay, undefined, { signal: options.signal })
      }
    }
    throw new RpcUnavailableError(this.rpcUrl, last)
  }

  private translate (err: unknown, what: string, abi: Abi = this.errorAbi): unknown {
    if (err instanceof ContractRevertError || err instanceof RpcUnavailableError || err instanceof InsufficientFundsError) return err
    if ((err as Error)?.name === 'AbortError') return err
    const revert = asRevert(err, abi, what)
    if (revert !== undefined) return revert
    if (isInsufficientFunds(err)) return new InsufficientFundsError(this.walletClient?.account.address ?? 'the sender', what)
    return err
  }

  /** A contract read with retries and decoded reverts. */
  async read<T = unknown> (call: Omit<ContractCall, 'value'>, options: AbortOptions & { blockNumber?: bigint } = {}): Promise<T> {
    const abi = this.errorsOf(call.abi)
    return await this.retry(call.functionName, async () => await this.publicClient.readContract({
      address: call.address, abi: call.abi, functionName: call.functionName, args: call.args ?? [], blockNumber: options.blockNumber,
    }) as T, options, abi)
  }

  /** Sends a contract call and returns its receipt once confirmed. */
  async write (call: ContractCall, options: SendOptions = {}): Promise<TransactionReceipt> {
    const data = encodeFunctionData({ abi: call.abi, functionName: call.functionName, args: call.args ?? [] })
    return await this.sendRaw({ to: call.address, data, value: call.value, abi: call.abi, what: call.functionName }, options)
  }

  /** Deploys a contract and returns its address and receipt. */
  async deploy (params: { abi: Abi, bytecode: Hex, args?: readonly unknown[], name: string }, options: SendOptions = {}): Promise<{ address: Address, receipt: TransactionReceipt }> {
    const data = encodeDeployData({ abi: params.abi, bytecode: params.bytecode, args: params.args ?? [] })
    const receipt = await this.sendRaw({ data, abi: params.abi, what: `deploy ${params.name}` }, options)
    if (receipt.contractAddress == null) throw new TransactionFailedError(receipt.transactionHash, `deploy ${params.name}`)
    return { address: receipt.contractAddress, receipt }
  }

  async sendRaw (req: { to?: Address, data: Hex, value?: bigint, abi: Abi, what: string }, options: SendOptions = {}): Promise<TransactionReceipt> {
    const account = this.account
    const abi = this.errorsOf(req.abi)
    return await serialized(account.address.toLowerCase(), async () => {
      let lastRetryReason = ''
      for (let attempt = 0; attempt < this.attempts; attempt++) {
        if (attempt > 0) options.onProgress?.({ type: 'tx:retry', what: req.what, attempt, reason: lastRetryReason })
        try {
          return await this.attempt(account, req, abi, options)
        } catch (err) {
          if (!(err instanceof RetryAttempt)) throw err
          lastRetryReason = err.message
          debug('%s: %s; starting over', req.what, err.message)
          await sleep(Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt), undefined, { signal: options.signal })
        }
      }
      throw new TransactionFailedError('(none)', `${req.what}: gave up after ${this.attempts} attempts (${lastRetryReason})`)
    })
  }

  private async attempt (account: Account, req: { to?: Address, data: Hex, value?: bigint, what: string }, abi: Abi, options: SendOptions): Promise<TransactionReceipt> {
    const { what } = req
    const pc = this.publicClient
    const base = { account, to: req.to, data: req.data, value: req.value }
    // 1-2. Simulate and price in one round trip: the gas estimate runs the call, so a revert
    // here costs nothing and carries the contract's error; fees and the nonce come alongside,
    // fresh for this attempt. (prepare: false, or viem fetches fees and nonce for the estimate
    // again.)
    const [estimate, fees, nonce] = await this.retry(what, async () => await Promise.all([
      pc.estimateGas({ ...base, prepare: false }),
      this.fees(),
      pc.getTransactionCount({ address: account.address, blockTag: 'pending' }),
    ]), options, abi)
    options.onProgress?.({ type: 'tx:simulated', what })
    const gas = estimate + estimate * GAS_HEADROOM_PERCENT / 100n
    // 3. Sign locally so a lost response can be answered by re-broadcasting the very same bytes.
    let hash: Hex
    let raw: Hex | undefined
    if (account.type === 'local') {
      const common = { chainId: pc.chain.id, to: req.to, data: req.data, value: req.value ?? 0n, nonce, gas }
      raw = await account.signTransaction(fees.gasPrice !== undefined
        ? { ...common, type: 'legacy', gasPrice: fees.gasPrice }
        : { ...common, type: 'eip1559', maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas })
      hash = keccak256(raw)
      await this.broadcast(raw, what, options, abi)
    } else {
      const wc = this.walletClient as WalletClient<Transport, Chain, Account>
      const common = { account, chain: pc.chain, to: req.to ?? null, data: req.data, value: req.value, nonce, gas }
      hash = await this.retry(what, async () => await wc.sendTransaction(fees.gasPrice !== undefined
        ? { ...common, gasPrice: fees.gasPrice }
        : { ...common, maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas }), options, abi)
    }
    debug('%s: sent %s (nonce %d, gas %d)', what, hash, nonce, gas)
    options.onProgress?.({ type: 'tx:sent', what, hash, nonce, gas })
    // 4. Receipt, then confirmations.
    const receipt = await this.waitForReceipt(hash, raw, what, options)
    options.onProgress?.({ type: 'tx:mined', what, hash, blockNumber: receipt.blockNumber })
    if (receipt.status === 'reverted') {
      if (receipt.gasUsed >= gas) throw new RetryAttempt(`ran out of gas (${gas}) after the state changed`)
      // The state changed between simulation and mining: re-run it on the state after its block
      // (what an earlier transaction in the block did is there) to say why.
      try {
        await pc.call({ ...base, blockNumber: receipt.blockNumber })
      } catch (err) {
        const revert = asRevert(err, abi, what)
        if (revert !== undefined) { revert.transactionHash = hash; throw revert }
      }
      throw new TransactionFailedError(hash, what)
    }
    const confirmations = options.confirmations ?? this.confirmations
    await this.waitForConfirmations(receipt.blockNumber, confirmations, hash, options)
    options.onProgress?.({ type: 'tx:confirmed', what, hash, confirmations })
    return receipt
  }

  /** EIP-1559 fees where the chain has a base fee, else a legacy gas price. */
  private async fees (): Promise<{ gasPrice: bigint, maxFeePerGas?: undefined, maxPriorityFeePerGas?: undefined } | { gasPrice?: undefined, maxFeePerGas: bigint, maxPriorityFeePerGas: bigint }> {
    try {
      const f = await this.publicClient.estimateFeesPerGas()
      return { maxFeePerGas: f.maxFeePerGas, maxPriorityFeePerGas: f.maxPriorityFeePerGas }
    } catch (err) {
      if ((err as Error).name !== 'Eip1559FeesNotSupportedError') throw err
      return { gasPrice: await this.publicClient.getGasPrice() }
    }
  }

  private async broadcast (raw: Hex, what: string, options: SendOptions, abi: Abi): Promise<void> {
    try {
      await this.retry(what, async () => await this.publicClient.sendRawTransaction({ serializedTransaction: raw }), options, abi)
    } catch (err) {
      // An earlier broadcast of these bytes may have arrived even though its answer did not.
      if (isNonceError(err)) return
      throw err
    }
  }

  private async waitForReceipt (hash: Hex, raw: Hex | undefined, what: string, options: SendOptions): Promise<TransactionReceipt> {
    const pc = this.publicClient
    const deadline = Date.now() + this.receiptTimeoutMs
    let polls = 0
    while (Date.now() < deadline) {
      options.signal?.throwIfAborted()
      try {
        return await pc.getTransactionReceipt({ hash })
      } catch (err) {
        if (!isNetworkError(err) && (err as Error).name !== 'TransactionReceiptNotFoundError') throw this.translate(err, what)
        // Every few polls make sure the endpoint still knows the transaction (a restarted
        // endpoint may have lost its pool): if not, broadcast it again.
        if (raw !== undefined && !isNetworkError(err) && ++polls % 4 === 0) {
          const known = await pc.getTransaction({ hash }).then(() => true, () => false)
          if (!known) {
            try {
              await pc.sendRawTransaction({ serializedTransaction: raw })
              debug('%s: re-broadcast %s', what, hash)
            } catch (e) {
              if (isNonceError(e)) throw new RetryAttempt('its nonce was used by another transaction')
            }
          }
        }
      }
      await sleep(this.pollIntervalMs, undefined, { signal: options.signal })
    }
    throw new TransactionTimeoutError(hash, this.receiptTimeoutMs)
  }

  private async waitForConfirmations (blockNumber: bigint, confirmations: number, hash: Hex, options: SendOptions): Promise<void> {
    if (confirmations <= 1) return
    const target = blockNumber + BigInt(confirmations) - 1n
    const deadline = Date.now() + this.receiptTimeoutMs
    while (Date.now() < deadline) {
      options.signal?.throwIfAborted()
      const head = await this.publicClient.getBlockNumber({ cacheTime: 0 }).catch((err: unknown) => {
        if (isNetworkError(err)) return -1n
        throw err
      })
      if (head >= target) return
      await sleep(this.pollIntervalMs, undefined, { signal: options.signal })
    }
    throw new TransactionTimeoutError(hash, this.receiptTimeoutMs)
  }
}
