/**
 * A supplier leaving the network. Gently, it only stops taking fragments: each slot it holds is
 * released (collateral back) when its deal ends, or, if the owner extended the deal, left with
 * its collateral once the term the deal started with is over (an extension does not bind the
 * holders). At once, it also gives up on chain every slot of a running deal (`leaveSlot`): the
 * slot's collateral is forfeited into the deal's bounty, which pays whoever rebuilds the fragment,
 * so the owner's file is whole again without the owner doing anything. Leaving never dodges a
 * pending challenge (the contract refuses it until answered).
 */
import type { Address, Hex } from 'viem'
import type { MarketApi } from '../chain/market.ts'
import type { StakingApi } from '../chain/staking.ts'
import type { StakeInfo } from '../chain/types.ts'
import { ContractRevertError } from '../chain/errors.ts'
import { duration, tokens } from '../util/units.ts'
import type { SlotRef } from './types.ts'

export type LeaveChain = Pick<MarketApi, 'dealStatus' | 'getDeal' | 'getSlot' | 'leaveSlot' | 'currentPeriod'>

/** Why a slot is still held after a leave. */
export type KeptReason = 'running' | 'filling' | 'challenge' | 'proving' | 'failed'

export interface KeptSlot extends SlotRef {
  reason: KeptReason
  /** The period the deal ends at (running deals). */
  endPeriod?: number
  /** Extended deals: the period from which it can be left with its collateral (the deal's first term). */
  freeFrom?: number
  /** What leaving it at once costs (the slot's collateral). */
  collateral: bigint
  /** For 'failed': what the chain said. */
  error?: string
  /** For 'proving': the block after which the slot can be left even unproven. */
  afterBlock?: bigint
}

export interface LeaveOutcome {
  left: Array<SlotRef & { forfeited: bigint }>
  kept: KeptSlot[]
}

export interface LeaveOptions {
  self: Address
  /** Give up running deals' slots now (forfeiting their collateral) rather than at their end. */
  now: boolean
  /** Called for each slot given up: stop proving it and delete the fragment. */
  onLeft: (ref: SlotRef) => Promise<void>
  /**
   * How long to keep trying while the contract waits for this period's proof (its samples are
   * drawn: leaving would move them). The prover sends it early in the window, so this is
   * usually a block or two. Default 60 s, retried every 2 s.
   */
  patienceMs?: number
  retryMs?: number
}

/**
 * Goes over the slots this supplier holds (`held`: its stored fragments, manifests excluded) and
 * leaves those it can. Slots of deals that are over are left to the release chore, which returns
 * their collateral; slots that changed hands are skipped.
 */
export async function leaveSlots (market: LeaveChain, held: SlotRef[], options: LeaveOptions): Promise<LeaveOutcome> {
  const out: LeaveOutcome = { left: [], kept: [] }
  if (held.length === 0) return out
  const period = Number(await market.currentPeriod())
  const deals = new Map<string, Promise<[Awaited<ReturnType<LeaveChain['dealStatus']>>, Awaited<ReturnType<LeaveChain['getDeal']>>]>>()
  for (const ref of held) {
    const key = ref.dealId.toLowerCase()
    let read = deals.get(key)
    if (read === undefined) {
      read = Promise.all([market.dealStatus(ref.dealId), market.getDeal(ref.dealId)])
      deals.set(key, read)
    }
    const [status, deal] = await read
    if (status !== 'Active' && status !== 'Filling') continue
    const slot = await market.getSlot(ref.dealId, ref.index)
    if (slot.holder.toLowerCase() !== options.self.toLowerCase()) continue
    const collateral = deal.fragmentSize * deal.collateralPerByte
    // Past the term the deal started with (it was extended since), leaving costs nothing.
    const free = status === 'Active' && period >= deal.boundUntil
    if (status === 'Filling') {
      // Its consumer is still uploading: the slot can be left once the deal runs.
      out.kept.push({ ...ref, reason: 'filling', collateral })
      continue
    }
    if (!options.now && !free) {
      out.kept.push({ ...ref, reason: 'running', endPeriod: deal.endPeriod, collateral, ...(deal.boundUntil < deal.endPeriod ? { freeFrom: deal.boundUntil } : {}) })
      continue
    }
    const refused = await leaveOne(market, ref, options)
    if (refused !== undefined) {
      const reason: KeptReason = refused.errorName === 'MarketChallengePending' ? 'challenge' : refused.errorName === 'MarketProveBeforeLeaving' ? 'proving' : 'failed'
      out.kept.push({
        ...ref,
        reason,
        endPeriod: deal.endPeriod,
        collateral,
        ...(reason === 'failed' ? { error: refused.message } : {}),
        ...(reason === 'proving' ? { afterBlock: refused.args[1] as bigint } : {}),
      })
      continue
    }
    await options.onLeft(ref)
    out.left.push({ ...ref, forfeited: free ? 0n : collateral })
  }
  return out
}

/**
 * When a leaving supplier's chores should look at the `kept` slots again: the earliest period at
 * which one can be given up for free (an extended deal past its first term) or is released (its
 * deal's end), or 0 (the next look) for one that waits on something else (a deal still filling, a
 * challenge, this period's proof). Undefined when nothing is held.
 */
export function nextFreeLeave (kept: KeptSlot[]): number | undefined {
  const at = kept.map((k) => k.reason === 'running' ? k.freeFrom ?? k.endPeriod ?? 0 : 0)
  return at.length === 0 ? undefined : Math.min(...at)
}

/** Leaves one slot, waiting out the current period's proof; returns the contract's refusal, if any. */
async function leaveOne (market: LeaveChain, ref: SlotRef, options: LeaveOptions): Promise<ContractRevertError | undefined> {
  const until = Date.now() + (options.patienceMs ?? 60_000)
  for (;;) {
    try {
      await market.leaveSlot(ref.dealId, ref.index)
      return undefined
    } catch (err) {
      if (!(err instanceof ContractRevertError)) throw err
      if (err.errorName !== 'MarketProveBeforeLeaving' || Date.now() >= until) return err
      await new Promise((resolve) => setTimeout(resolve, options.retryMs ?? 2000))
    }
  }
}

/** One line per kept slot, for people. */
export function keptLine (k: KeptSlot, endsIn?: (period: number) => string): string {
  const where = `slot ${k.index} of deal ${shortId(k.dealId)}`
  switch (k.reason) {
    case 'running': return k.freeFrom !== undefined
      ? `${where}: its owner extended the deal; your node leaves it with its collateral once the term it started with is over${endsIn !== undefined ? ` (${endsIn(k.freeFrom)})` : ''}`
      : `${where}: released when its deal ends${k.endPeriod !== undefined && endsIn !== undefined ? ` (${endsIn(k.endPeriod)})` : ''}; if its owner extends it, your node leaves it then, with its collateral`
    case 'filling': return `${where}: its deal is still being uploaded; it can be left once it runs`
    case 'challenge': return `${where}: a challenge on it is pending; your node answers it within the challenge window, then run \`supply leave --now\` again`
    case 'proving': return `${where}: this period's proof is not in yet (the contract waits for it so that leaving cannot move its samples); run \`supply leave --now\` again${k.afterBlock !== undefined ? ` (at the latest after block ${k.afterBlock})` : ''}`
    case 'failed': return `${where}: ${k.error ?? 'the chain refused to let it go'}`
  }
}

function shortId (id: Hex): string {
  return `${id.slice(0, 10)}…`
}

export type StakeChain = Pick<StakingApi, 'stakeInfo' | 'withdraw' | 'freeStake' | 'requestUnbond'>

export interface StakeSettlement { info: StakeInfo, unbonded: bigint, withdrawn: boolean }

/**
 * While leaving: withdraws what has unbonded, and unbonds the stake that is free. A new unbond
 * request restarts the contract's unbonding clock for everything unbonding, so while slots still
 * lock stake only the first request is made; the rest follows once the last slot is released.
 */
export async function settleStake (s: StakeChain, me: Address, head: bigint): Promise<StakeSettlement> {
  let info = await s.stakeInfo(me)
  let withdrawn = false
  let unbonded = 0n
  if (info.unbonding > 0n && head >= info.unlockBlock) {
    await s.withdraw()
    withdrawn = true
    info = await s.stakeInfo(me)
  }
  if (info.staked > info.unbonding && (info.unbonding === 0n || info.locked === 0n)) {
    unbonded = await s.freeStake(me)
    if (unbonded > 0n) {
      await s.requestUnbond(unbonded)
      info = await s.stakeInfo(me)
    }
  }
  return { info, unbonded, withdrawn }
}

/** Where the chain is, to say when things happen. */
export interface LeaveClock { genesisBlock: bigint, periodBlocks: bigint, head: bigint, msPerBlock: number | undefined }

/** What `supply leave` tells the person. */
export function leaveSummary (o: LeaveOutcome, stake: StakeInfo, now: boolean, clock: LeaveClock): string[] {
  const inBlocks = (block: bigint): string => block <= clock.head
    ? 'now'
    : clock.msPerBlock === undefined ? `at block ${block}` : `at block ${block}, in ~${duration(Number(block - clock.head) * clock.msPerBlock)}`
  const lines = ['You take no new fragments, and your stake comes back to your wallet as it frees (saved in config.json; `supply stake` brings you back).']
  if (o.left.length > 0) {
    const forfeited = o.left.reduce((sum, l) => sum + l.forfeited, 0n)
    const one = o.left.length === 1
    lines.push(`Left ${o.left.length} slot${one ? '' : 's'} at once: ${tokens(forfeited)} of collateral forfeited, which pays whoever rebuilds ${one ? 'its fragment' : 'their fragments'}.`)
  }
  if (o.kept.length > 0) {
    lines.push(`Still held: ${o.kept.length} slot${o.kept.length === 1 ? '' : 's'}:`)
    for (const k of o.kept) lines.push(`  ${keptLine(k, (p) => inBlocks(clock.genesisBlock + BigInt(p) * clock.periodBlocks))}`)
    const running = o.kept.filter((k) => k.reason === 'running')
    if (!now && running.length > 0) lines.push(`\`supply leave --now\` gives ${running.length === 1 ? 'it' : 'them'} up at once for ${tokens(running.reduce((sum, k) => sum + k.collateral, 0n))} of collateral.`)
  }
  if (stake.unbonding > 0n) lines.push(`${tokens(stake.unbonding)} of stake unbonding, withdrawable ${inBlocks(stake.unlockBlock)}; your node withdraws it to your wallet then (while it runs).`)
  if (stake.locked > 0n) lines.push(`${tokens(stake.locked)} of stake backs the slots still held and unbonds as they are released.`)
  if (stake.staked === 0n) lines.push('No stake left: you are out.')
  return lines
}
