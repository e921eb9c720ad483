/**
 * Deployment parameters: `devnet` (one block per second, periods of seconds, an open faucet)
 * and `default` (a public chain with ~12 s blocks: hour-long periods, no faucet).
 */
import type { Address } from 'viem'

export interface MarketConfigParams {
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
  /** Receives slashes that belong to no deal; default: the deployer. */
  treasury?: Address
}

export interface DeployParams {
  token: {
    /** Tokens per faucet call (0 disables the faucet). */
    faucetAmount: bigint
    /** Minted to the deployer at deployment (if the token's constructor takes it). */
    initialSupply: bigint
  }
  staking: { unbondingBlocks: bigint }
  market: MarketConfigParams
}

export const DUST = 10n ** 18n

export const DEVNET_PARAMS: DeployParams = {
  token: { faucetAmount: 10_000n * DUST, initialSupply: 1_000_000n * DUST },
  staking: { unbondingBlocks: 20n },
  market: {
    periodBlocks: 10n,
    proofWindow: 6n,
    samplesPerPeriod: 2n,
    fillDeadlineBlocks: 300n,
    challengeWindow: 10n,
    missesToJail: 3n,
    maxDurationPeriods: 100_000n,
    missSlashBps: 1000,
    markerRewardBps: 1000,
    repairBountyBps: 5000,
    challengeFee: 1n * DUST,
  },
}

export const DEFAULT_PARAMS: DeployParams = {
  token: { faucetAmount: 0n, initialSupply: 100_000_000n * DUST },
  staking: { unbondingBlocks: 50_400n }, // ~1 week of 12 s blocks
  market: {
    periodBlocks: 300n, // ~1 hour
    proofWindow: 100n,
    samplesPerPeriod: 4n,
    fillDeadlineBlocks: 7_200n, // ~1 day
    challengeWindow: 150n,
    missesToJail: 6n,
    maxDurationPeriods: 24n * 365n * 2n,
    missSlashBps: 500,
    markerRewardBps: 1000,
    repairBountyBps: 5000,
    challengeFee: 10n * DUST,
  },
}

export const PARAM_PRESETS: Record<string, DeployParams> = { devnet: DEVNET_PARAMS, default: DEFAULT_PARAMS }
