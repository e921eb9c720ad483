/**
 * TypeScript shapes of the contracts' structs and enums (contracts/interfaces/*.sol).
 * Amounts are bigint; small counters that fit in 32 bits are numbers.
 */
import type { Address, Hex } from 'viem'

export type DealId = Hex

export interface DealParams {
  dataSlots: number
  paritySlots: number
  fragmentSize: bigint
  durationPeriods: number
  pricePerBytePeriod: bigint
  collateralPerByte: bigint
}

/** IMarket.DealState (stored). */
export const DealState = ['None', 'Open', 'Active', 'Cancelled', 'Finalized'] as const
export type DealStateName = typeof DealState[number]
/** IMarket.DealStatus (derived). */
export const DealStatus = ['None', 'Filling', 'Failed', 'Active', 'Ended', 'Cancelled', 'Finalized'] as const
export type DealStatusName = typeof DealStatus[number]
export const FreeReason = ['ChallengeExpired', 'HolderJailed', 'HolderLeft'] as const

export interface Deal {
  consumer: Address
  dataSlots: number
  paritySlots: number
  filled: number
  state: DealStateName
  deadlineBlock: bigint
  fragmentSize: bigint
  durationPeriods: number
  startPeriod: number
  endPeriod: number
  /** The end the deal started with: a holder may leave without forfeiting its collateral from then on. */
  boundUntil: number
  pricePerBytePeriod: bigint
  collateralPerByte: bigint
  escrow: bigint
  bounty: bigint
}

export interface Slot {
  root: Hex
  holder: Address
  setIndex: number
  segments: number
  paidFrom: number
}

export interface Challenge {
  challenger: Address
  issuedBlock: bigint
  feePaid: boolean
}

/**
 * A supplier's period as a marker sees it: proven, already marked missed, open (owed and neither:
 * markMissed would take it), or not due (no proof owed: no slots, not obliged yet, jailed, or a
 * miss older than its last proof, which the contract no longer takes).
 */
export type PeriodOutcome = 'proven' | 'missed' | 'open' | 'not due'

export interface SupplierState {
  obligedFrom: number
  missStreak: number
  jailed: boolean
  proofsGiven: bigint
  proofsMissed: bigint
  /** Last period it proved. */
  lastProven: number
  /** Slots it holds now. */
  slotCount: number
  bytesRepaired: bigint
}

export interface AccountTotals {
  bytePeriodsStored: bigint
  proofsGiven: bigint
  proofsMissed: bigint
  bytesRepaired: bigint
  earned: bigint
  slashed: bigint
  paid: bigint
  refunded: bigint
  claimed: bigint
}

export const ACCOUNT_TOTAL_KEYS = ['bytePeriodsStored', 'proofsGiven', 'proofsMissed', 'bytesRepaired', 'earned', 'slashed', 'paid', 'refunded', 'claimed'] as const

export interface MarketConfig {
  periodBlocks: bigint
  proofWindow: bigint
  samplesPerPeriod: bigint
  fillDeadlineBlocks: bigint
  challengeWindow: bigint
  missesToJail: bigint
  maxDurationPeriods: bigint
  missSlashBps: number
  markerRewardBps: number
  repairBountyBps: number
  challengeFee: bigint
  treasury: Address
}

export interface SupplierInfo {
  peerId: Hex
  capacity: bigint
  pricePerBytePeriod: bigint
}

export interface StakeInfo {
  staked: bigint
  locked: bigint
  unbonding: bigint
  unlockBlock: bigint
}

export interface PeriodSamples {
  slotIds: Hex[]
  segments: bigint[]
}

export interface Permit {
  value: bigint
  deadline: bigint
  v: number
  r: Hex
  s: Hex
}
