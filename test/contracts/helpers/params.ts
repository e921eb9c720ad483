/**
 * The realistic default parameter set (docs/contracts.md explains each value), shared by the gas
 * benchmark and available to deploy scripts. Blocks are 12 s: 7200 blocks = 1 day.
 */
const E18 = 10n ** 18n

export const REALISTIC = {
  market: {
    periodBlocks: 7200n, // one proof per supplier per day: <= 150k gas per TiB-day
    proofWindow: 240n, // 48 min after the period's start block (<= 255: the seed blockhash stays readable)
    samplesPerPeriod: 2n, // the most that keeps a period proof <= 120k gas (3 samples measured 130k)
    fillDeadlineBlocks: 7200n, // a day to place all fragments
    challengeWindow: 240n, // 48 min to answer a targeted challenge
    missesToJail: 3n, // three missed days in a row
    maxDurationPeriods: 3660n, // ten years of daily periods: settlement reads <= 15 bitmap words
    missSlashBps: 100n, // 1 % of locked collateral per missed day
    markerRewardBps: 1000n, // 10 % of a slash to whoever marks or expires
    repairBountyBps: 5000n, // half of a freed slot's share of the bounty to the repairer
    challengeFee: E18, // 1 DUST for a third-party targeted challenge, paid to the holder when answered
  },
  unbondingBlocks: 7n * 7200n, // a week: long enough to mark a week of misses before the stake leaves
  price: 1000n, // base units per byte per period: illustrative (≈ 1.07e-6 DUST per GiB-day)
  collateralPerByte: 10n ** 6n,
}

/** Devnet: short periods so a local network shows proofs, misses and repairs within minutes. */
export const DEVNET = {
  market: {
    ...REALISTIC.market,
    periodBlocks: 10n,
    proofWindow: 5n,
    fillDeadlineBlocks: 100n,
    challengeWindow: 5n,
    maxDurationPeriods: 10_000n,
  },
  unbondingBlocks: 20n,
  faucetAmount: 1000n * E18,
}
