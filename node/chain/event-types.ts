/**
 * Typed arguments of the BitDust events (contracts/interfaces/*.sol), and a guard that narrows a
 * decoded ChainEvent to one of them: `if (isEvent(e, 'SlotFreed')) e.args.supplier`.
 */
import type { Address, Hex } from 'viem'
import type { ChainEvent } from './events.ts'

export interface BitDustEventArgs {
  // token
  Transfer: { from: Address, to: Address, value: bigint }
  Approval: { owner: Address, spender: Address, value: bigint }
  FaucetDripped: { account: Address, amount: bigint }
  // staking
  MarketSet: { market: Address }
  SupplierRegistered: { supplier: Address, peerId: Hex, capacity: bigint, pricePerBytePeriod: bigint }
  Staked: { supplier: Address, amount: bigint, totalStaked: bigint }
  UnbondRequested: { supplier: Address, amount: bigint, unlockBlock: bigint }
  Withdrawn: { supplier: Address, amount: bigint }
  CollateralLocked: { supplier: Address, amount: bigint, totalLocked: bigint }
  CollateralUnlocked: { supplier: Address, amount: bigint, totalLocked: bigint }
  StakeSlashed: { supplier: Address, amount: bigint, released: bigint }
  // market
  DealOpened: { dealId: Hex, consumer: Address, params: { dataSlots: number, paritySlots: number, fragmentSize: bigint, durationPeriods: number, pricePerBytePeriod: bigint, collateralPerByte: bigint }, deadlineBlock: bigint, escrow: bigint, roots: readonly Hex[] }
  DealStarted: { dealId: Hex, startPeriod: bigint, endPeriod: bigint }
  DealCancelled: { dealId: Hex, endPeriod: bigint }
  DealExtended: { dealId: Hex, periods: bigint, durationPeriods: bigint, endPeriod: bigint, amount: bigint }
  DealFinalized: { dealId: Hex, consumer: Address, refund: bigint }
  SlotFilled: { dealId: Hex, index: bigint, supplier: Address, collateral: bigint, period: bigint, repair: boolean }
  RepairBountyPaid: { dealId: Hex, index: bigint, supplier: Address, amount: bigint, bytesRepaired: bigint }
  SlotSettled: { dealId: Hex, index: bigint, supplier: Address, amount: bigint, provenPeriods: bigint, bytePeriods: bigint, toPeriod: bigint }
  SlotFreed: { dealId: Hex, index: bigint, supplier: Address, reason: number, slashed: bigint }
  SlotReleased: { dealId: Hex, index: bigint, supplier: Address, collateral: bigint }
  PeriodProven: { supplier: Address, period: bigint, slotsHeld: bigint }
  PeriodMissed: { supplier: Address, period: bigint, marker: Address, slashed: bigint, markerReward: bigint, missStreak: bigint }
  SupplierJailed: { supplier: Address, period: bigint }
  ChallengeIssued: { dealId: Hex, index: bigint, challenger: Address, supplier: Address, fee: bigint, segment: bigint, deadlineBlock: bigint }
  ChallengeAnswered: { dealId: Hex, index: bigint, supplier: Address, fee: bigint }
  ChallengeExpired: { dealId: Hex, index: bigint, supplier: Address, caller: Address, slashed: bigint, callerReward: bigint }
  EarningsCredited: { account: Address, amount: bigint, dealId: Hex, reason: string }
  EarningsClaimed: { account: Address, amount: bigint }
  ConsumerPaid: { consumer: Address, dealId: Hex, amount: bigint, reason: string }
  ConsumerRefunded: { consumer: Address, dealId: Hex, amount: bigint, reason: string }
  SupplierSlashed: { supplier: Address, dealId: Hex, amount: bigint, reason: string }
}

export type BitDustEventName = keyof BitDustEventArgs

export type TypedChainEvent<N extends BitDustEventName> = Omit<ChainEvent, 'eventName' | 'args'> & { eventName: N, args: BitDustEventArgs[N] }

export function isEvent<N extends BitDustEventName> (e: ChainEvent, name: N): e is ChainEvent & TypedChainEvent<N> {
  return e.eventName === name
}

/** Field names per event, checked against the ABIs by the tests (so the types above cannot drift). */
export const EVENT_FIELDS: { [N in BitDustEventName]: ReadonlyArray<keyof BitDustEventArgs[N]> } = {
  Transfer: ['from', 'to', 'value'],
  Approval: ['owner', 'spender', 'value'],
  FaucetDripped: ['account', 'amount'],
  MarketSet: ['market'],
  SupplierRegistered: ['supplier', 'peerId', 'capacity', 'pricePerBytePeriod'],
  Staked: ['supplier', 'amount', 'totalStaked'],
  UnbondRequested: ['supplier', 'amount', 'unlockBlock'],
  Withdrawn: ['supplier', 'amount'],
  CollateralLocked: ['supplier', 'amount', 'totalLocked'],
  CollateralUnlocked: ['supplier', 'amount', 'totalLocked'],
  StakeSlashed: ['supplier', 'amount', 'released'],
  DealOpened: ['dealId', 'consumer', 'params', 'deadlineBlock', 'escrow', 'roots'],
  DealStarted: ['dealId', 'startPeriod', 'endPeriod'],
  DealCancelled: ['dealId', 'endPeriod'],
  DealExtended: ['dealId', 'periods', 'durationPeriods', 'endPeriod', 'amount'],
  DealFinalized: ['dealId', 'consumer', 'refund'],
  SlotFilled: ['dealId', 'index', 'supplier', 'collateral', 'period', 'repair'],
  RepairBountyPaid: ['dealId', 'index', 'supplier', 'amount', 'bytesRepaired'],
  SlotSettled: ['dealId', 'index', 'supplier', 'amount', 'provenPeriods', 'bytePeriods', 'toPeriod'],
  SlotFreed: ['dealId', 'index', 'supplier', 'reason', 'slashed'],
  SlotReleased: ['dealId', 'index', 'supplier', 'collateral'],
  PeriodProven: ['supplier', 'period', 'slotsHeld'],
  PeriodMissed: ['supplier', 'period', 'marker', 'slashed', 'markerReward', 'missStreak'],
  SupplierJailed: ['supplier', 'period'],
  ChallengeIssued: ['dealId', 'index', 'challenger', 'supplier', 'fee', 'segment', 'deadlineBlock'],
  ChallengeAnswered: ['dealId', 'index', 'supplier', 'fee'],
  ChallengeExpired: ['dealId', 'index', 'supplier', 'caller', 'slashed', 'callerReward'],
  EarningsCredited: ['account', 'amount', 'dealId', 'reason'],
  EarningsClaimed: ['account', 'amount'],
  ConsumerPaid: ['consumer', 'dealId', 'amount', 'reason'],
  ConsumerRefunded: ['consumer', 'dealId', 'amount', 'reason'],
  SupplierSlashed: ['supplier', 'dealId', 'amount', 'reason'],
}
