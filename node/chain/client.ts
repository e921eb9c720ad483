/**
 * BitDustChain: everything the node does on chain, behind one object. Only node/chain talks to the
 * chain library; the rest of the node calls this (or narrower views of it, like StakeChecker).
 */
import type { Abi, Address } from 'viem'
import { bitDustAbis } from './abis.ts'
import type { ArtifactOptions } from './artifacts.ts'
import { connect } from './connect.ts'
import type { ChainClients } from './connect.ts'
import type { ChainContext } from './context.ts'
import type { BitDustAddresses } from './deploy.ts'
import { ContractsMismatchError, NoContractError, WrongChainError } from './errors.ts'
import { getEvents, watchEvents } from './events.ts'
import type { ChainEvent, EventWatcher, GetEventsOptions, WatchInit } from './events.ts'
import { MarketApi } from './market.ts'
import { StakingApi } from './staking.ts'
import { TokenApi } from './token.ts'
import { TxSender } from './tx.ts'
import type { AbortOptions, TxSenderInit } from './tx.ts'

export interface BitDustChainInit extends TxSenderInit, ArtifactOptions {
  rpcUrl: string
  chainId: number
  contracts: BitDustAddresses
  /** First block with BitDust events (the deployment block). */
  deployBlock?: number
  /** The account's key; omit for read-only use (ledger, audit, watching). */
  privateKey?: `0x${string}`
  requestTimeoutMs?: number
  /** ABIs to use instead of the compiled interfaces (tests, or a node shipped without artifacts). */
  abis?: { token: Abi, staking: Abi, market: Abi, errors?: Abi[] }
}

export class BitDustChain {
  readonly rpcUrl: string
  readonly chainId: number
  readonly contracts: BitDustAddresses
  readonly deployBlock: bigint
  readonly clients: ChainClients
  readonly tx: TxSender
  readonly token: TokenApi
  readonly staking: StakingApi
  readonly market: MarketApi
  private readonly ctx: ChainContext

  constructor (init: BitDustChainInit) {
    this.rpcUrl = init.rpcUrl
    this.chainId = init.chainId
    this.contracts = init.contracts
    this.deployBlock = BigInt(init.deployBlock ?? 0)
    this.clients = connect({ rpcUrl: init.rpcUrl, chainId: init.chainId, privateKey: init.privateKey, pollIntervalMs: init.pollIntervalMs, requestTimeoutMs: init.requestTimeoutMs })
    const abis = init.abis ?? bitDustAbis(init)
    this.tx = new TxSender(this.clients, { ...init, errorAbis: [abis.token, abis.staking, abis.market, ...(abis.errors ?? []), ...(init.errorAbis ?? [])] })
    this.ctx = { tx: this.tx, contracts: init.contracts, abis: { token: abis.token, staking: abis.staking, market: abis.market }, account: this.clients.account }
    this.token = new TokenApi(this.ctx)
    this.staking = new StakingApi(this.ctx, this.token)
    this.market = new MarketApi(this.ctx, this.token)
  }

  /** The ABIs this client talks through. */
  get abis (): ChainContext['abis'] { return this.ctx.abis }

  /** The signer's address (undefined when read-only). */
  get address (): Address | undefined { return this.clients.account?.address }

  /**
   * Checks that the endpoint serves the profile's chain, that code sits at every contract address
   * and that the three belong together: WrongChainError / NoContractError / ContractsMismatchError /
   * RpcUnavailableError say what to fix.
   */
  async checkNetwork (options: AbortOptions = {}): Promise<void> {
    const pc = this.clients.publicClient
    const actual = await this.tx.retry('eth_chainId', async () => await pc.getChainId(), options)
    if (actual !== this.chainId) throw new WrongChainError(this.chainId, actual, this.rpcUrl)
    for (const [what, address] of Object.entries(this.contracts)) {
      const code = await this.tx.retry('eth_getCode', async () => await pc.getCode({ address }), options)
      if (code === undefined || code === '0x') throw new NoContractError(what, address)
    }
    // The three must belong to one deployment.
    const market = { address: this.contracts.market, abi: this.ctx.abis.market }
    const [token, staking] = await Promise.all([
      this.tx.read<Address>({ ...market, functionName: 'token' }, options),
      this.tx.read<Address>({ ...market, functionName: 'staking' }, options),
    ])
    if (token.toLowerCase() !== this.contracts.token.toLowerCase()) throw new ContractsMismatchError('token', this.contracts.token, token)
    if (staking.toLowerCase() !== this.contracts.staking.toLowerCase()) throw new ContractsMismatchError('staking', this.contracts.staking, staking)
  }

  async blockNumber (options: AbortOptions = {}): Promise<bigint> {
    return await this.tx.retry('eth_blockNumber', async () => await this.clients.publicClient.getBlockNumber({ cacheTime: 0 }), options)
  }

  /**
   * Milliseconds per block over the last `span` blocks, from their timestamps: how long a number of
   * blocks (a deal's remaining periods) takes on this chain. Undefined on a chain too young to tell.
   */
  async msPerBlock (span = 256n, options: AbortOptions = {}): Promise<number | undefined> {
    const pc = this.clients.publicClient
    const head = await this.tx.retry('eth_getBlockByNumber', async () => await pc.getBlock({ blockTag: 'latest' }), options)
    const back = head.number < span ? head.number : span
    if (back === 0n) return undefined
    const old = await this.tx.retry('eth_getBlockByNumber', async () => await pc.getBlock({ blockNumber: head.number - back }), options)
    const ms = Number(head.timestamp - old.timestamp) * 1000 / Number(back)
    return ms > 0 ? ms : undefined
  }

  async ethBalance (account?: Address, options: AbortOptions = {}): Promise<bigint> {
    const who = account ?? this.address
    if (who === undefined) throw new Error('No account given and this connection has no signer')
    return await this.tx.retry('eth_getBalance', async () => await this.clients.publicClient.getBalance({ address: who }), options)
  }

  /** StakeChecker for node/p2p. */
  async stakeOf (address: Address, options: AbortOptions = {}): Promise<bigint> {
    return await this.staking.stakeOf(address, options)
  }

  /** Decoded events in chain order, from the deployment block unless told otherwise. */
  async getEvents (options: Partial<GetEventsOptions> = {}): Promise<ChainEvent[]> {
    return await getEvents(this.eventSource(), { ...options, fromBlock: options.fromBlock ?? this.deployBlock })
  }

  /** Polls new events until stopped; resume with the `nextBlock` stored after each batch. */
  watchEvents (init: Omit<WatchInit, 'fromBlock'> & { fromBlock?: bigint }): EventWatcher {
    return watchEvents(this.eventSource(), { ...init, fromBlock: init.fromBlock ?? this.deployBlock })
  }

  private eventSource (): Parameters<typeof getEvents>[0] {
    return { tx: this.tx, contracts: this.contracts, abis: this.ctx.abis }
  }
}

export function createBitDustChain (init: BitDustChainInit): BitDustChain {
  return new BitDustChain(init)
}
