/**
 * Deployment parameters: `devnet` (one block per second, periods of seconds, an open faucet)
 * and `default` (a public chain with ~12 s blocks: day-long periods, no faucet).
 */
import type { Address } from 'viem'
import type { MarketConfig } from './types.ts'

/** The market's on-chain Config; the treasury (slashes that belong to no deal) defaults to the deployer. */
export type MarketConfigParams = Omit<MarketConfig, 'treasury'> & { treasury?: Address }

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

/**
 * Realistic parameters (docs/contracts.md): one period a day so that a supplier's proof costs
 * <= 150k gas per day whatever it holds, two samples per proof (the most under 120k gas).
 */
export const DEFAULT_PARAMS: DeployParams = {
  token: { faucetAmount: 0n, initialSupply: 100_000_000n * DUST },
  staking: { unbondingBlocks: 7n * 7_200n }, // a week of 12 s blocks: misses can be marked before stake leaves
  market: {
    periodBlocks: 7_200n, // one day of 12 s blocks
    proofWindow: 240n, // 48 minutes; <= 255 so the seed's blockhash stays readable
    samplesPerPeriod: 2n,
    fillDeadlineBlocks: 7_200n, // a day to place all fragments
    challengeWindow: 240n,
    missesToJail: 3n, // three missed days in a row
    maxDurationPeriods: 3_660n, // ten years of daily periods
    missSlashBps: 100, // 1 % of locked collateral per missed day
    markerRewardBps: 1000,
    repairBountyBps: 5000,
    challengeFee: 1n * DUST,
  },
}

export const PARAM_PRESETS: Record<string, DeployParams> = { devnet: DEVNET_PARAMS, default: DEFAULT_PARAMS }
