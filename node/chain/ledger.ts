/**
 * Accounts rebuilt from chain events alone: every total the contracts keep (IMarket.AccountTotals,
 * earnings, stake, token balance) re-derived by replaying the events in chain order. Pure: the
 * caller fetches the events (BitDustChain.getEvents) and audit.ts compares with the contracts.
 */
import type { Address, Hex } from 'viem'
import { zeroAddress } from 'viem'
import type { ChainEvent } from './events.ts'
import type { AbortOptions } from './tx.ts'
import { ACCOUNT_TOTAL_KEYS } from './types.ts'
import type { AccountTotals } from './types.ts'
import { FreeReason } from './types.ts'

export interface RebuiltAccount extends AccountTotals {
  /** Earnings credited and not yet claimed (IMarket.earnings). */
  unclaimed: bigint
  /** Token balance from Transfer events. */
  balance: bigint
  /** IStaking.Stake fields. */
  staked: bigint
  locked: bigint
  unbonding: bigint
}

export interface LedgerLine {
  block: bigint
  txHash: Hex
  logIndex: number
  /** `contract.Event`, e.g. `market.SlotSettled`. */
  event: string
  /** The event's main amount in token base units (0 when it moves no tokens). */
  amount: bigint
  detail: string
  /** What the event added to this account's rebuilt totals (negative = subtracted). */
  changes: Partial<Record<keyof RebuiltAccount, bigint>>
}

export interface Statement {
  account: Address
  fromBlock: bigint
  toBlock: bigint
  lines: LedgerLine[]
  totals: RebuiltAccount
}

export interface Rebuilt {
  accounts: Map<string, RebuiltAccount>
  /** Lines per lower-cased address. */
  lines: Map<string, LedgerLine[]>
  /** Mints minus burns seen in Transfer events. */
  totalSupply: bigint
}

export function emptyAccount (): RebuiltAccount {
  const a = Object.fromEntries(ACCOUNT_TOTAL_KEYS.map((k) => [k, 0n])) as unknown as AccountTotals
  return { ...a, unclaimed: 0n, balance: 0n, staked: 0n, locked: 0n, unbonding: 0n }
}

type Effect = { account: unknown, amount?: unknown, detail: string, changes?: LedgerLine['changes'] }

const big = (v: unknown): bigint => typeof v === 'bigint' ? v : BigInt(v as number)
const short = (h: unknown): string => typeof h === 'string' && h.length > 14 ? `${h.slice(0, 10)}…` : String(h)
const slot = (a: Record<string, unknown>): string => `deal ${short(a.dealId)} slot ${String(a.index)}`

/** What each event does to whom. Unknown events change nothing (and are not listed). */
function effects (e: ChainEvent): Effect[] {
  const a = e.args
  switch (`${e.contract}.${e.eventName}`) {
    // ---------------------------------------------------------------- token
    case 'token.Transfer': {
      const out: Effect[] = []
      const v = big(a.value)
      if (a.from !== zeroAddress) out.push({ account: a.from, amount: v, detail: `sent to ${String(a.to)}`, changes: { balance: -v } })
      if (a.to !== zeroAddress) out.push({ account: a.to, amount: v, detail: a.from === zeroAddress ? 'minted' : `received from ${String(a.from)}`, changes: { balance: v } })
      return out
    }
    case 'token.FaucetDripped': return [{ account: a.account, amount: a.amount, detail: 'faucet' }]
    // ---------------------------------------------------------------- staking
    case 'staking.SupplierRegistered': return [{ account: a.supplier, detail: `registered: capacity ${String(a.capacity)} B, price ${String(a.pricePerBytePeriod)}/B/period` }]
    case 'staking.Staked': return [{ account: a.supplier, amount: a.amount, detail: 'staked', changes: { staked: big(a.amount) } }]
    case 'staking.UnbondRequested': return [{ account: a.supplier, amount: a.amount, detail: `unbond requested, unlocks at block ${String(a.unlockBlock)}`, changes: { unbonding: big(a.amount) } }]
    case 'staking.Withdrawn': return [{ account: a.supplier, amount: a.amount, detail: 'stake withdrawn', changes: { staked: -big(a.amount) } }]
    case 'staking.CollateralLocked': return [{ account: a.supplier, amount: a.amount, detail: 'collateral locked', changes: { locked: big(a.amount) } }]
    case 'staking.CollateralUnlocked': return [{ account: a.supplier, amount: a.amount, detail: 'collateral unlocked', changes: { locked: -big(a.amount) } }]
    case 'staking.StakeSlashed': return [{ account: a.supplier, amount: a.amount, detail: `stake taken by the market (${String(a.released)} collateral released)`, changes: { staked: -big(a.amount), locked: -big(a.released) } }]
    // ---------------------------------------------------------------- market: consumer side
    case 'market.DealOpened': return [{ account: a.consumer, amount: a.escrow, detail: `opened deal ${short(a.dealId)}` }]
    case 'market.ConsumerPaid': return [{ account: a.consumer, amount: a.amount, detail: `paid (${String(a.reason)}) for deal ${short(a.dealId)}`, changes: { paid: big(a.amount) } }]
    case 'market.ConsumerRefunded': return [{ account: a.consumer, amount: a.amount, detail: `refunded (${String(a.reason)}) from deal ${short(a.dealId)}`, changes: { refunded: big(a.amount) } }]
    case 'market.DealFinalized': return [{ account: a.consumer, amount: a.refund, detail: `deal ${short(a.dealId)} finalized` }]
    case 'market.ChallengeIssued': return [
      { account: a.challenger, amount: a.fee, detail: `challenged ${slot(a)} (segment ${String(a.segment)})` },
      { account: a.supplier, detail: `challenged on ${slot(a)} (segment ${String(a.segment)}), answer by block ${String(a.deadlineBlock)}` },
    ]
    // ---------------------------------------------------------------- market: supplier side
    case 'market.SlotFilled': return [{ account: a.supplier, amount: a.collateral, detail: `${a.repair === true ? 'repaired' : 'filled'} ${slot(a)}` }]
    case 'market.RepairBountyPaid': return [{ account: a.supplier, amount: a.amount, detail: `repair bounty for ${slot(a)}`, changes: { bytesRepaired: big(a.bytesRepaired) } }]
    case 'market.SlotSettled': return [{ account: a.supplier, amount: a.amount, detail: `${String(a.provenPeriods)} proven periods of ${slot(a)} settled`, changes: { bytePeriodsStored: big(a.bytePeriods) } }]
    case 'market.SlotFreed': {
      const reason = FreeReason[Number(a.reason)]
      return [{ account: a.supplier, amount: a.slashed, detail: reason === 'HolderLeft' ? `left ${slot(a)} early, collateral forfeited` : `lost ${slot(a)} (${reason ?? String(a.reason)})` }]
    }
    case 'market.SlotReleased': return [{ account: a.supplier, amount: a.collateral, detail: `released ${slot(a)}` }]
    case 'market.PeriodProven': return [{ account: a.supplier, detail: `proved period ${String(a.period)} (${String(a.slotsHeld)} slots)`, changes: { proofsGiven: 1n } }]
    case 'market.PeriodMissed': return [
      { account: a.supplier, amount: a.slashed, detail: `missed period ${String(a.period)} (streak ${String(a.missStreak)})`, changes: { proofsMissed: 1n } },
      { account: a.marker, amount: a.markerReward, detail: `marked ${String(a.supplier)} missed in period ${String(a.period)}` },
    ]
    case 'market.SupplierJailed': return [{ account: a.supplier, detail: `jailed in period ${String(a.period)}` }]
    case 'market.ChallengeAnswered': return [{ account: a.supplier, amount: a.fee, detail: `answered the challenge on ${slot(a)}` }]
    case 'market.ChallengeExpired': return [{ account: a.caller, amount: a.callerReward, detail: `expired the challenge on ${slot(a)}` }]
    case 'market.SupplierSlashed': return [{ account: a.supplier, amount: a.amount, detail: `slashed (${String(a.reason)})${a.dealId !== `0x${'0'.repeat(64)}` ? ` on deal ${short(a.dealId)}` : ''}`, changes: { slashed: big(a.amount) } }]
    // ---------------------------------------------------------------- market: money
    case 'market.EarningsCredited': {
      // A returned challenge fee is credited to earnings but counts as refunded (ConsumerRefunded), not earned.
      const refund = a.reason === 'challenge-fee-refund'
      const v = big(a.amount)
      return [{ account: a.account, amount: v, detail: `credited (${String(a.reason)})`, changes: refund ? { unclaimed: v } : { earned: v, unclaimed: v } }]
    }
    case 'market.EarningsClaimed': return [{ account: a.account, amount: a.amount, detail: 'claimed earnings', changes: { claimed: big(a.amount), unclaimed: -big(a.amount) } }]
    default: return []
  }
}

/** Replays events (in chain order) into per-account totals and statement lines. */
export function rebuild (events: ChainEvent[]): Rebuilt {
  const accounts = new Map<string, RebuiltAccount>()
  const lines = new Map<string, LedgerLine[]>()
  let totalSupply = 0n
  for (const e of events) {
    if (e.contract === 'token' && e.eventName === 'Transfer') {
      if (e.args.from === zeroAddress) totalSupply += big(e.args.value)
      if (e.args.to === zeroAddress) totalSupply -= big(e.args.value)
    }
    for (const fx of effects(e)) {
      if (typeof fx.account !== 'string' || fx.account === zeroAddress) continue
      const key = fx.account.toLowerCase()
      let acc = accounts.get(key)
      if (acc === undefined) { acc = emptyAccount(); accounts.set(key, acc) }
      const changes = fx.changes ?? {}
      for (const [field, delta] of Object.entries(changes) as Array<[keyof RebuiltAccount, bigint]>) acc[field] += delta
      // A withdrawal pays out and ends all unbonding, whatever was requested.
      if (e.eventName === 'Withdrawn' && e.contract === 'staking') { changes.unbonding = -acc.unbonding; acc.unbonding = 0n }
      let list = lines.get(key)
      if (list === undefined) { list = []; lines.set(key, list) }
      list.push({
        block: e.blockNumber, txHash: e.transactionHash, logIndex: e.logIndex, event: `${e.contract}.${e.eventName}`,
        amount: fx.amount === undefined ? 0n : big(fx.amount), detail: fx.detail, changes,
      })
    }
  }
  return { accounts, lines, totalSupply }
}

/** The narrow view of the chain the ledger needs (BitDustChain implements it). */
export interface EventReader {
  deployBlock: bigint
  /** Named in statements instead of their addresses. */
  contracts?: { token?: Address, staking?: Address, market?: Address }
  blockNumber: (options?: AbortOptions) => Promise<bigint>
  getEvents: (options: { fromBlock?: bigint, toBlock?: bigint, signal?: AbortSignal }) => Promise<ChainEvent[]>
}

/** An account's statement from the deployment block to `toBlock` (default: the latest block). */
export async function statement (chain: EventReader, account: Address, options: AbortOptions & { toBlock?: bigint } = {}): Promise<Statement> {
  const toBlock = options.toBlock ?? await chain.blockNumber(options)
  const events = await chain.getEvents({ fromBlock: chain.deployBlock, toBlock, signal: options.signal })
  const r = rebuild(events)
  const key = account.toLowerCase()
  let lines = r.lines.get(key) ?? []
  const names = Object.entries(chain.contracts ?? {}).filter((e): e is [string, Address] => typeof e[1] === 'string')
  if (names.length > 0) {
    const rename = (detail: string): string => names.reduce((d, [name, address]) => d.replaceAll(new RegExp(address, 'gi'), `the ${name} contract`), detail)
    lines = lines.map((l) => ({ ...l, detail: rename(l.detail) }))
  }
  return { account, fromBlock: chain.deployBlock, toBlock, lines, totals: r.accounts.get(key) ?? emptyAccount() }
}

/** JSON-safe form (bigints as decimal strings) for the API and the CLI. */
export function statementToJson (s: Statement): { account: string, fromBlock: string, toBlock: string, lines: Array<Record<string, unknown>>, totals: Record<string, string> } {
  const str = (o: Record<string, unknown>): Record<string, string> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, String(v)]))
  return {
    account: s.account,
    fromBlock: String(s.fromBlock),
    toBlock: String(s.toBlock),
    lines: s.lines.map((l) => ({ block: String(l.block), txHash: l.txHash, event: l.event, amount: String(l.amount), detail: l.detail, changes: str(l.changes) })),
    totals: str(s.totals as unknown as Record<string, unknown>),
  }
}
