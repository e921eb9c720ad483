/**
 * The audit: every account rebuilt from events alone (ledger.ts), compared field by field with
 * what the contracts say at the same block, plus the conservation of tokens:
 *   token.balanceOf(staking) == staking.totalStaked()
 *   token.balanceOf(market)  == market.totalEscrow() + market.totalUnclaimed()
 *   Σ unclaimed earnings (events) == market.totalUnclaimed();  Σ stake (events) == totalStaked()
 *   mints − burns (events) == token.totalSupply() == Σ balances (events)
 * Any difference is reported; none means the books and the contracts agree.
 */
import type { Abi, Address } from 'viem'
import type { BitDustAddresses } from './deploy.ts'
import type { ChainEvent } from './events.ts'
import { emptyAccount, rebuild } from './ledger.ts'
import type { RebuiltAccount } from './ledger.ts'
import type { AbortOptions, TxSender } from './tx.ts'
import { ACCOUNT_TOTAL_KEYS } from './types.ts'
import type { AccountTotals, StakeInfo } from './types.ts'

export interface AuditDifference {
  /** The account, or `total` for a contract-wide figure. */
  account: Address | 'total'
  field: string
  fromEvents: bigint
  onChain: bigint
}

export interface AuditReport {
  fromBlock: bigint
  toBlock: bigint
  accounts: number
  events: number
  differences: AuditDifference[]
}

export type AuditProgress = { type: 'audit:events', count: number } | { type: 'audit:account', done: number, total: number }

/** The narrow view of the chain the audit needs (BitDustChain implements it). */
export interface AuditSource {
  tx: TxSender
  contracts: BitDustAddresses
  abis: { token: Abi, staking: Abi, market: Abi }
  deployBlock: bigint
  blockNumber: (options?: AbortOptions) => Promise<bigint>
  getEvents: (options: { fromBlock?: bigint, toBlock?: bigint, signal?: AbortSignal }) => Promise<ChainEvent[]>
}

export interface AuditOptions extends AbortOptions {
  /** Audit as of this block (default: the latest). */
  toBlock?: bigint
  onProgress?: (event: AuditProgress) => void
}

export async function audit (chain: AuditSource, options: AuditOptions = {}): Promise<AuditReport> {
  const toBlock = options.toBlock ?? await chain.blockNumber(options)
  const events = await chain.getEvents({ fromBlock: chain.deployBlock, toBlock, signal: options.signal })
  options.onProgress?.({ type: 'audit:events', count: events.length })
  const rebuilt = rebuild(events)
  const { token, staking, market } = chain.contracts
  const at = { signal: options.signal, blockNumber: toBlock }
  const read = async <T>(address: Address, abi: Abi, functionName: string, args: unknown[] = []): Promise<T> =>
    await chain.tx.read<T>({ address, abi, functionName, args }, at)
  const differences: AuditDifference[] = []
  const compare = (account: Address | 'total', field: string, fromEvents: bigint, onChain: bigint): void => {
    if (fromEvents !== onChain) differences.push({ account, field, fromEvents, onChain })
  }

  // The contracts hold tokens too: include them so their balances are checked.
  for (const c of [token, staking, market]) {
    if (!rebuilt.accounts.has(c.toLowerCase())) rebuilt.accounts.set(c.toLowerCase(), emptyAccount())
  }
  const stakers = new Set(events.filter((e) => e.contract === 'staking' && typeof e.args.supplier === 'string').map((e) => (e.args.supplier as string).toLowerCase()))

  let done = 0
  let sumUnclaimed = 0n
  let sumStaked = 0n
  let sumBalances = 0n
  for (const [key, acc] of rebuilt.accounts) {
    const account = key as Address
    const [balance, totals, earnings] = await Promise.all([
      read<bigint>(token, chain.abis.token, 'balanceOf', [account]),
      read<AccountTotals>(market, chain.abis.market, 'totals', [account]),
      read<bigint>(market, chain.abis.market, 'earnings', [account]),
    ])
    compare(account, 'balance', acc.balance, balance)
    for (const k of ACCOUNT_TOTAL_KEYS) compare(account, k, acc[k], BigInt(totals[k]))
    compare(account, 'unclaimed', acc.unclaimed, earnings)
    if (stakers.has(key)) {
      const s = await read<StakeInfo>(staking, chain.abis.staking, 'stakeOf', [account])
      for (const k of ['staked', 'locked', 'unbonding'] as const satisfies ReadonlyArray<keyof RebuiltAccount>) compare(account, k, acc[k], s[k])
    }
    sumUnclaimed += acc.unclaimed
    sumStaked += acc.staked
    sumBalances += acc.balance
    options.onProgress?.({ type: 'audit:account', done: ++done, total: rebuilt.accounts.size })
  }

  const [supply, totalStaked, totalEscrow, totalUnclaimed, stakingBalance, marketBalance] = await Promise.all([
    read<bigint>(token, chain.abis.token, 'totalSupply'),
    read<bigint>(staking, chain.abis.staking, 'totalStaked'),
    read<bigint>(market, chain.abis.market, 'totalEscrow'),
    read<bigint>(market, chain.abis.market, 'totalUnclaimed'),
    read<bigint>(token, chain.abis.token, 'balanceOf', [staking]),
    read<bigint>(token, chain.abis.token, 'balanceOf', [market]),
  ])
  compare('total', 'totalSupply (mints − burns)', rebuilt.totalSupply, supply)
  compare('total', 'totalSupply (Σ balances)', sumBalances, supply)
  compare('total', 'totalStaked (Σ stakes)', sumStaked, totalStaked)
  compare('total', 'staking balance = totalStaked', stakingBalance, totalStaked)
  compare('total', 'totalUnclaimed (Σ earnings)', sumUnclaimed, totalUnclaimed)
  compare('total', 'market balance = totalEscrow + totalUnclaimed', marketBalance, totalEscrow + totalUnclaimed)

  return { fromBlock: chain.deployBlock, toBlock, accounts: rebuilt.accounts.size, events: events.length, differences }
}

/** JSON-safe form for the API and the CLI (`{ accounts, differences }`). */
export function auditToJson (r: AuditReport): { fromBlock: string, toBlock: string, accounts: number, events: number, differences: Array<Record<string, string>> } {
  return {
    fromBlock: String(r.fromBlock),
    toBlock: String(r.toBlock),
    accounts: r.accounts,
    events: r.events,
    differences: r.differences.map((d) => ({ account: d.account, field: d.field, fromEvents: String(d.fromEvents), onChain: String(d.onChain) })),
  }
}
