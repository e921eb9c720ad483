/**
 * A sentence for a person per known custom error: what went wrong and what to do. Unknown names
 * fall back to the name and arguments. Keep in step with contracts/interfaces/*.sol.
 */
type Describe = (args: readonly unknown[]) => string

const a = (args: readonly unknown[], i: number): string => String(args[i])
const STATUS = ['None', 'Filling', 'Failed', 'Active', 'Ended', 'Cancelled', 'Finalized']
const dealStatus = (v: unknown): string => STATUS[Number(v)] ?? String(v)

const MESSAGES: Record<string, Describe> = {
  // OpenZeppelin ERC20 / ERC2612 / Ownable / SafeERC20 / Pausable
  ERC20InsufficientBalance: (x) => `account ${a(x, 0)} holds ${a(x, 1)} tokens but ${a(x, 2)} are needed; get more tokens first`,
  ERC20InsufficientAllowance: (x) => `spender ${a(x, 0)} may move only ${a(x, 1)} tokens but ${a(x, 2)} are needed; approve (or permit) a larger amount`,
  ERC20InvalidReceiver: (x) => `tokens cannot be sent to ${a(x, 0)}`,
  ERC20InvalidSender: (x) => `tokens cannot be sent from ${a(x, 0)}`,
  ERC20InvalidApprover: (x) => `approver ${a(x, 0)} is invalid`,
  ERC20InvalidSpender: (x) => `spender ${a(x, 0)} is invalid`,
  ERC2612ExpiredSignature: (x) => `the permit signature expired at ${a(x, 0)}; sign a new one`,
  ERC2612InvalidSigner: (x) => `the permit was signed by ${a(x, 0)}, not by the owner ${a(x, 1)}; sign it with the owner's key`,
  InvalidAccountNonce: (x) => `nonce ${a(x, 1)} of ${a(x, 0)} is not the current one; sign the permit again`,
  OwnableUnauthorizedAccount: (x) => `${a(x, 0)} is not the owner and may not do this`,
  SafeERC20FailedOperation: (x) => `the token ${a(x, 0)} refused a transfer`,
  EnforcedPause: () => 'the contract is paused; wait until it is unpaused',
  ReentrancyGuardReentrantCall: () => 'a reentrant call was refused',

  // BitDust token (contracts/interfaces/IBitDustToken.sol)
  TokenFaucetDisabled: () => 'the faucet is disabled on this network; get tokens from someone who holds them',

  // Staking (contracts/interfaces/IStaking.sol)
  StakingNotMarket: (x) => `${a(x, 0)} is not the market; only the market may lock, unlock or slash stake`,
  StakingNotOwner: (x) => `${a(x, 0)} is not the staking contract's owner`,
  StakingMarketAlreadySet: (x) => `the market is already set to ${a(x, 0)}`,
  StakingZeroAmount: () => 'the amount must be more than zero',
  StakingEmptyPeerId: () => 'the peer id is empty; register with this node\'s libp2p peer id',
  StakingNotRegistered: (x) => `supplier ${a(x, 0)} is not registered; run the supplier registration first`,
  StakingInsufficientStake: (x) => `supplier ${a(x, 0)} has ${a(x, 1)} free stake but ${a(x, 2)} is needed; stake more tokens`,
  StakingNothingUnbonding: (x) => `supplier ${a(x, 0)} has nothing unbonding; request an unbond first`,
  StakingStillBonded: (x) => `the stake of ${a(x, 0)} unlocks at block ${a(x, 1)} (now ${a(x, 2)}); withdraw after that block`,

  // Market (contracts/interfaces/IMarket.sol)
  MarketInvalidConfig: (x) => `the market configuration field ${a(x, 0)} is invalid`,
  MarketInvalidSlotCount: (x) => `${a(x, 0)} data + ${a(x, 1)} parity slots is not allowed (at least 1 data slot, at most 255 in all)`,
  MarketInvalidFragmentSize: (x) => `fragment size ${a(x, 0)} is not a non-zero multiple of 256 bytes`,
  MarketInvalidDuration: (x) => `a deal of ${a(x, 0)} periods is not allowed (1 to ${a(x, 1)})`,
  MarketInvalidPrice: () => 'the price per byte and period must be more than zero',
  MarketRootCount: (x) => `${a(x, 1)} Merkle roots were given but the deal has ${a(x, 0)} slots`,
  MarketZeroRoot: (x) => `the Merkle root of slot ${a(x, 0)} is zero`,
  MarketDealExists: (x) => `deal ${a(x, 0)} exists already; open it with another salt`,
  MarketDealNotFound: (x) => `there is no deal ${a(x, 0)}`,
  MarketDealNotFilling: (x) => `deal ${a(x, 0)} takes no fills now (status ${dealStatus(x[1])})`,
  MarketDealNotActive: (x) => `deal ${a(x, 0)} is not running (status ${dealStatus(x[1])})`,
  MarketDealNotOver: (x) => `deal ${a(x, 0)} is not over yet (status ${dealStatus(x[1])}); wait until it ends, fails or is cancelled`,
  MarketNotConsumer: (x) => `${a(x, 1)} is not the consumer of deal ${a(x, 0)}`,
  MarketSlotOutOfRange: (x) => `slot ${a(x, 1)} does not exist: deal ${a(x, 0)} has ${a(x, 2)} slots`,
  MarketSlotNotFree: (x) => `slot ${a(x, 1)} of deal ${a(x, 0)} is held by ${a(x, 2)}; pick a free slot`,
  MarketSlotNotFilled: (x) => `slot ${a(x, 1)} of deal ${a(x, 0)} has no holder`,
  MarketSlotsStillHeld: (x) => `deal ${a(x, 0)} still has ${a(x, 1)} held slots; release them first`,
  MarketNotHolder: (x) => `${a(x, 2)} does not hold slot ${a(x, 1)} of deal ${a(x, 0)}`,
  MarketSeedBlockInvalid: (x) => `seed block ${a(x, 0)} is not among the recent blocks before ${a(x, 1)}; build the proof again from a newer block`,
  MarketSeedUnavailable: (x) => `the seed of period ${a(x, 0)} is not available yet; wait one block and prove again`,
  MarketProofLength: (x) => `the proof has ${a(x, 1)} bytes but ${a(x, 0)} were expected; the proof was built for other samples or tree depths`,
  MarketInvalidProof: (x) => `sample ${a(x, 2)} (segment ${a(x, 1)} of slot ${a(x, 0)}) does not match the slot's Merkle root: the stored fragment differs from what was promised`,
  MarketSupplierNotRegistered: (x) => `supplier ${a(x, 0)} is not registered in staking; register first`,
  MarketSupplierJailed: (x) => `supplier ${a(x, 0)} is jailed after missing too many proofs and may not take or prove slots`,
  MarketNoSlots: (x) => `supplier ${a(x, 0)} holds no slots, so there is nothing to prove`,
  MarketPeriodNotCurrent: (x) => `period ${a(x, 0)} is not the current period (${a(x, 1)})`,
  MarketProofWindowClosed: (x) => `the proof window of period ${a(x, 0)} closed at block ${a(x, 1)}; prove earlier in the next period`,
  MarketAlreadyProven: (x) => `supplier ${a(x, 0)} already proved period ${a(x, 1)}`,
  MarketProveBeforeLeaving: (x) => `the samples of period ${a(x, 0)} are drawn and not yet proven: prove the period first, or leave after block ${a(x, 1)}`,
  MarketProofWindowOpen: (x) => `the proof window of period ${a(x, 0)} is open until block ${a(x, 1)}; a miss can be marked only after it`,
  MarketNotObliged: (x) => `supplier ${a(x, 0)} had nothing to prove in period ${a(x, 1)}`,
  MarketAlreadyMarked: (x) => `period ${a(x, 1)} of supplier ${a(x, 0)} is already marked missed`,
  MarketChallengePending: (x) => `slot ${a(x, 1)} of deal ${a(x, 0)} already has a pending challenge`,
  MarketNoChallenge: (x) => `slot ${a(x, 1)} of deal ${a(x, 0)} has no pending challenge`,
  MarketChallengeWindowClosed: (x) => `the challenge on slot ${a(x, 1)} of deal ${a(x, 0)} could be answered only until block ${a(x, 2)}`,
  MarketChallengeWindowOpen: (x) => `the challenge on slot ${a(x, 1)} of deal ${a(x, 0)} may still be answered until block ${a(x, 2)}`,
  MarketNothingToClaim: (x) => `${a(x, 0)} has no earnings to claim`,
}

/** Adds or replaces sentences (the contracts' own errors register theirs here). */
export function registerRevertMessages (more: Record<string, Describe>): void {
  Object.assign(MESSAGES, more)
}

export function describeRevert (errorName: string, args: readonly unknown[]): string {
  const describe = MESSAGES[errorName]
  if (describe !== undefined) return describe(args)
  return `${errorName}${args.length > 0 ? `(${args.map(String).join(', ')})` : ''}`
}

export function knownRevertNames (): string[] {
  return Object.keys(MESSAGES)
}
