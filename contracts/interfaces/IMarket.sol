// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title The BitDust storage market: deals, slots, period proofs, targeted challenges, repair, payouts.
/// @notice Time is counted in blocks. period(b) = (b - genesisBlock) / periodBlocks; the seed of
/// period p is blockhash(periodStartBlock(p)) and the proof window is the `proofWindow` blocks after
/// that start block. Every supplier holding slots answers, once per period, `samplesPerPeriod` samples
/// drawn from ALL the slots it holds (sample j: r = uint256(keccak256(abi.encode(seed, supplier, period, j))),
/// slot = slotsOf(supplier)[r % count], segment = (r >> 128) % segments(slot)). Payment is lazy: a
/// slot earns price * fragmentSize for every period of the deal that its holder proved.
/// @dev Proof blobs (fill, period, challenge) are packed: for every sample, the 256-byte segment then
/// `depth` 32-byte siblings bottom-up (depth = ceil(log2(segments))), no length prefixes.
/// node/proofs/challenge.ts builds them and mirrors the sample derivation.
interface IMarket {
    // ---------------------------------------------------------------- types

    /// @notice What the consumer asks for when opening a deal.
    struct DealParams {
        uint8 dataSlots; // k
        uint8 paritySlots; // m
        uint64 fragmentSize; // bytes per fragment, a non-zero multiple of 256
        uint32 durationPeriods; // periods the deal runs once all slots are filled
        uint128 pricePerBytePeriod; // paid to a slot's holder per byte per proven period
        uint128 collateralPerByte; // locked from the holder's stake per byte of its fragment
    }

    /// @notice Stored deal state. Status (Filling/Failed/Active/Ended/...) is derived by dealStatus().
    enum DealState {
        None,
        Open, // filling slots until deadlineBlock
        Active, // all slots were filled once; runs [startPeriod, endPeriod)
        Cancelled, // the consumer stopped it; endPeriod = period of the cancel
        Finalized // escrow left and bounty were refunded to the consumer
    }

    enum DealStatus {
        None,
        Filling, // Open, deadline not passed
        Failed, // Open, deadline passed: full refund once slots are released
        Active, // running
        Ended, // endPeriod reached
        Cancelled,
        Finalized
    }

    struct Deal {
        address consumer;
        uint8 dataSlots;
        uint8 paritySlots;
        uint8 filled; // slots that currently have a holder
        DealState state;
        uint64 deadlineBlock; // slots must all be filled before this block
        uint64 fragmentSize;
        uint32 durationPeriods;
        uint32 startPeriod; // set when the last slot is filled (first period paid)
        uint32 endPeriod; // exclusive
        uint32 boundUntil; // the end when the deal started: extensions do not bind holders past it
        uint128 pricePerBytePeriod;
        uint128 collateralPerByte;
        uint128 escrow; // consumer's money not yet paid to suppliers
        uint128 bounty; // slashed collateral of this deal's slots, funds repairs, rest refunded
    }

    struct Slot {
        bytes32 root; // Merkle root of the fragment (proof convention v1)
        address holder; // 0 = free (initial fill or repair)
        uint32 setIndex; // position in the holder's slot set
        uint32 segments; // fragmentSize / 256
        uint32 paidFrom; // first period not yet settled for the current holder
    }

    /// @notice An open targeted challenge on one slot.
    struct Challenge {
        address challenger; // 0 = none
        uint64 issuedBlock; // seed = keccak256(abi.encode(blockhash(issuedBlock - 1), challengeId))
        bool feePaid; // challenger paid challengeFee (refunded if unanswered, else paid to the holder)
    }

    struct SupplierState {
        uint32 obligedFrom; // first period it must prove (set when its slot set becomes non-empty)
        uint16 missStreak; // marked misses since its last proof
        bool jailed; // after missesToJail misses in a row: all its slots become repairable
        uint64 proofsGiven;
        uint64 proofsMissed;
        uint32 lastProven; // last period it proved (misses can only be marked after it)
        uint32 slotCount; // slots it holds now (size of its on-chain slot set)
        uint64 bytesRepaired; // bytes of slots it refilled after a failure
    }

    /// @notice Work and money totals of one account; every change has an event.
    struct AccountTotals {
        uint256 bytePeriodsStored; // supplier: bytes x proven periods, counted when a slot is settled
        uint256 proofsGiven; // supplier: period proofs
        uint256 proofsMissed; // supplier: periods marked missed
        uint256 bytesRepaired; // supplier: bytes of slots it refilled after a failure
        uint256 earned; // supplier: storage payments + repair bounties + challenge fees + marking rewards
        uint256 slashed; // supplier: stake taken
        uint256 paid; // consumer: escrowed into deals (+ challenge fees paid)
        uint256 refunded; // consumer: escrow/bounty returned (+ challenge fees returned)
        uint256 claimed; // earnings withdrawn
    }

    /// @notice Parameters fixed at deployment (see docs/contracts.md for devnet vs. realistic values).
    struct Config {
        uint64 periodBlocks; // blocks per period
        uint64 proofWindow; // blocks after a period's start block to submit its proof (<= 255, < periodBlocks)
        uint64 samplesPerPeriod; // samples per supplier period proof
        uint64 fillDeadlineBlocks; // blocks after openDeal to fill every slot
        uint64 challengeWindow; // blocks to answer a targeted challenge (<= 255)
        uint64 missesToJail; // consecutive marked misses that jail a supplier
        uint64 maxDurationPeriods; // longest deal (bounds settlement work)
        uint16 missSlashBps; // share of the supplier's locked collateral slashed per missed period
        uint16 markerRewardBps; // share of a slash paid to whoever marked the miss / expired the challenge
        uint16 repairBountyBps; // share of (deal bounty / freed slots) paid to a repairer
        uint256 challengeFee; // paid by a non-consumer challenger, goes to the holder when answered
        address treasury; // receives the rest of miss slashes (no deal to attribute them to)
    }

    enum FreeReason {
        ChallengeExpired,
        HolderJailed,
        HolderLeft
    }

    // ---------------------------------------------------------------- errors

    error MarketInvalidConfig(string field);
    error MarketInvalidSlotCount(uint256 dataSlots, uint256 paritySlots);
    error MarketInvalidFragmentSize(uint256 fragmentSize);
    error MarketInvalidDuration(uint256 durationPeriods, uint256 maxDurationPeriods);
    error MarketInvalidPrice();
    error MarketRootCount(uint256 expected, uint256 given);
    error MarketZeroRoot(uint256 index);
    error MarketDealExists(bytes32 dealId);
    error MarketDealNotFound(bytes32 dealId);
    error MarketDealNotFilling(bytes32 dealId, DealStatus status);
    error MarketDealNotActive(bytes32 dealId, DealStatus status);
    error MarketDealNotOver(bytes32 dealId, DealStatus status);
    error MarketNotConsumer(bytes32 dealId, address caller);
    error MarketSlotOutOfRange(bytes32 dealId, uint256 index, uint256 slots);
    error MarketSlotNotFree(bytes32 dealId, uint256 index, address holder);
    error MarketSlotNotFilled(bytes32 dealId, uint256 index);
    error MarketSlotsStillHeld(bytes32 dealId, uint256 held);
    error MarketNotHolder(bytes32 dealId, uint256 index, address caller);
    error MarketSeedBlockInvalid(uint256 seedBlock, uint256 currentBlock);
    /// @notice The proof blob has the wrong length for the samples and tree depths asked.
    error MarketProofLength(uint256 expected, uint256 given);
    /// @notice Sample `sample` does not hash to the slot's root.
    error MarketInvalidProof(bytes32 slotId, uint256 segment, uint256 sample);
    error MarketSupplierJailed(address supplier);
    error MarketNoSlots(address supplier);
    error MarketPeriodNotCurrent(uint256 period, uint256 currentPeriod);
    /// @notice The period's start block is the current block: its hash (the seed) is not known yet.
    error MarketSeedUnavailable(uint256 period);
    error MarketProofWindowClosed(uint256 period, uint256 closedAtBlock);
    error MarketAlreadyProven(address supplier, uint256 period);
    error MarketProofWindowOpen(uint256 period, uint256 closesAtBlock);
    /// @notice The supplier held no slot, was not yet obliged, or has proved a later period.
    error MarketNotObliged(address supplier, uint256 period);
    error MarketAlreadyMarked(address supplier, uint256 period);
    /// @notice Leaving now would move the samples of a period whose seed is known: prove it first,
    /// or leave after its proof window closes.
    error MarketProveBeforeLeaving(uint256 period, uint256 closesAtBlock);
    error MarketChallengePending(bytes32 dealId, uint256 index);
    error MarketNoChallenge(bytes32 dealId, uint256 index);
    error MarketChallengeWindowClosed(bytes32 dealId, uint256 index, uint256 deadlineBlock);
    error MarketChallengeWindowOpen(bytes32 dealId, uint256 index, uint256 deadlineBlock);
    error MarketNothingToClaim(address account);

    // ---------------------------------------------------------------- events (past tense, every money/work change)

    event DealOpened(
        bytes32 indexed dealId,
        address indexed consumer,
        DealParams params,
        uint256 deadlineBlock,
        uint256 escrow,
        bytes32[] roots
    );
    event DealStarted(bytes32 indexed dealId, uint256 startPeriod, uint256 endPeriod);
    event DealCancelled(bytes32 indexed dealId, uint256 endPeriod);
    /// @notice The consumer escrowed `amount` more for `periods` more periods: the term is now
    /// `durationPeriods`, ending at `endPeriod` (0 while the deal is still filling).
    event DealExtended(bytes32 indexed dealId, uint256 periods, uint256 durationPeriods, uint256 endPeriod, uint256 amount);
    /// @notice The consumer got back `refund` (escrow nobody earned + bounty left).
    event DealFinalized(bytes32 indexed dealId, address indexed consumer, uint256 refund);
    event SlotFilled(bytes32 indexed dealId, uint256 index, address indexed supplier, uint256 collateral, uint256 period, bool repair);
    event RepairBountyPaid(bytes32 indexed dealId, uint256 index, address indexed supplier, uint256 amount, uint256 bytesRepaired);
    /// @notice The holder earned `amount` for `provenPeriods` proven periods of this slot (bytePeriods = fragmentSize * provenPeriods).
    event SlotSettled(bytes32 indexed dealId, uint256 index, address indexed supplier, uint256 amount, uint256 provenPeriods, uint256 bytePeriods, uint256 toPeriod);
    event SlotFreed(bytes32 indexed dealId, uint256 index, address indexed supplier, FreeReason reason, uint256 slashed);
    event SlotReleased(bytes32 indexed dealId, uint256 index, address indexed supplier, uint256 collateral);
    event PeriodProven(address indexed supplier, uint256 indexed period, uint256 slotsHeld);
    event PeriodMissed(address indexed supplier, uint256 indexed period, address indexed marker, uint256 slashed, uint256 markerReward, uint256 missStreak);
    event SupplierJailed(address indexed supplier, uint256 period);
    event ChallengeIssued(bytes32 indexed dealId, uint256 index, address indexed challenger, address indexed supplier, uint256 fee, uint256 segment, uint256 deadlineBlock);
    event ChallengeAnswered(bytes32 indexed dealId, uint256 index, address indexed supplier, uint256 fee);
    event ChallengeExpired(bytes32 indexed dealId, uint256 index, address indexed supplier, address caller, uint256 slashed, uint256 callerReward);
    /// @notice Generic credit to an account's unclaimed earnings with its cause, so statements add up from events.
    event EarningsCredited(address indexed account, uint256 amount, bytes32 indexed dealId, string reason);
    event EarningsClaimed(address indexed account, uint256 amount);
    event ConsumerPaid(address indexed consumer, bytes32 indexed dealId, uint256 amount, string reason);
    event ConsumerRefunded(address indexed consumer, bytes32 indexed dealId, uint256 amount, string reason);
    event SupplierSlashed(address indexed supplier, bytes32 indexed dealId, uint256 amount, string reason);

    // ---------------------------------------------------------------- consumer

    /// @notice Opens a deal and escrows slots * fragmentSize * price * duration tokens (approve first).
    /// @param salt chosen by the consumer; dealId = keccak256(abi.encode(msg.sender, salt)) with its low byte cleared
    /// @param roots one Merkle root per slot, data slots first
    function openDeal(DealParams calldata params, bytes32 salt, bytes32[] calldata roots) external returns (bytes32 dealId);

    /// @notice openDeal with an EIP-2612 permit for the escrow instead of a prior approve.
    function openDealWithPermit(
        DealParams calldata params,
        bytes32 salt,
        bytes32[] calldata roots,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (bytes32 dealId);

    /// @notice Consumer only, while the deal is filling or active: `periods` more periods at the deal's
    /// price, escrowing slots * fragmentSize * price * periods more (approve first). Its holders keep
    /// their slots, collateral and pay; the whole term stays within maxDurationPeriods.
    function extendDeal(bytes32 dealId, uint256 periods) external;

    /// @notice extendDeal with an EIP-2612 permit for the added escrow instead of a prior approve.
    function extendDealWithPermit(bytes32 dealId, uint256 periods, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Consumer only: stops the deal now. Suppliers keep what they earned for periods before
    /// the current one; the rest of the escrow is refunded by finalizeDeal.
    function cancelDeal(bytes32 dealId) external;

    /// @notice Anyone, once the deal is over (Failed, Ended or Cancelled) and every slot is released:
    /// refunds escrow left and bounty left to the consumer.
    function finalizeDeal(bytes32 dealId) external;

    // ---------------------------------------------------------------- supplier

    /// @notice Fills a free slot (initial fill while the deal is filling, or a repair while it is active,
    /// which pays a bounty). Locks fragmentSize * collateralPerByte of the caller's stake.
    /// @param seedBlock a block among the last 64; segment = uint256(keccak256(abi.encode(blockhash(seedBlock),
    /// msg.sender, dealId, index))) % segments
    /// @param proof packed segment + path (see contract doc)
    function fillSlot(bytes32 dealId, uint256 index, uint256 seedBlock, bytes calldata proof) external;

    /// @notice Proves the current period for all the caller's slots at once.
    /// @param proofs samplesPerPeriod packed samples, in sample order
    function provePeriod(uint256 period, bytes calldata proofs) external;

    /// @notice Holder answers a targeted challenge on its slot (packed segment + path).
    function answerChallenge(bytes32 dealId, uint256 index, bytes calldata proof) external;

    /// @notice Anyone: moves what a slot's holder earned so far (periods before the current one) to its earnings.
    function settleSlot(bytes32 dealId, uint256 index) external;

    /// @notice Anyone, once the deal is over: settles the slot, returns the holder's collateral (slashed if
    /// the holder is jailed) and removes the slot from its set.
    function releaseSlot(bytes32 dealId, uint256 index) external;

    /// @notice Holder of a slot of an active deal, to stop holding it before the deal ends: it is paid
    /// what it earned and the slot is freed for repair. Before `boundUntil` (the term the deal had
    /// when it started) it forfeits the slot's collateral into the deal's repair bounty (no marker
    /// reward, no jail, no missed period); from then on, in periods only an extension added, it leaves
    /// with its collateral. Refused while a challenge on the slot is pending, so that leaving never
    /// dodges one, and while the current period's samples are known but unproven, so that leaving
    /// cannot move them away from data the holder lost.
    function leaveSlot(bytes32 dealId, uint256 index) external;

    /// @notice Withdraws all of the caller's earnings.
    function claim() external returns (uint256 amount);

    // ---------------------------------------------------------------- anyone

    /// @notice After the proof window of `period`, records that `supplier` did not prove it: slashes
    /// missSlashBps of its locked collateral (markerRewardBps of it to the caller), jails after
    /// missesToJail misses in a row.
    function markMissed(address supplier, uint256 period) external;

    /// @notice Challenges one slot of an active deal. Free for the deal's consumer; anyone else pays
    /// challengeFee (approve first), paid to the holder if answered and refunded if not.
    function challengeSlot(bytes32 dealId, uint256 index) external;

    /// @notice After an unanswered challenge's window: slashes the slot's collateral into the deal's
    /// bounty (markerRewardBps to the caller) and frees the slot for repair.
    function expireChallenge(bytes32 dealId, uint256 index) external;

    // ---------------------------------------------------------------- views

    function token() external view returns (address);
    function staking() external view returns (address);
    function config() external view returns (Config memory);
    function genesisBlock() external view returns (uint256);
    function currentPeriod() external view returns (uint256);
    function periodStartBlock(uint256 period) external view returns (uint256);
    /// @notice blockhash of the period's start block (0 if not yet mined or older than 256 blocks).
    function periodSeed(uint256 period) external view returns (bytes32);
    function dealId(address consumer, bytes32 salt) external pure returns (bytes32);
    function slotId(bytes32 dealId, uint256 index) external pure returns (bytes32);
    function getDeal(bytes32 dealId) external view returns (Deal memory);
    function dealStatus(bytes32 dealId) external view returns (DealStatus);
    function getSlot(bytes32 dealId, uint256 index) external view returns (Slot memory);
    function getChallenge(bytes32 dealId, uint256 index) external view returns (Challenge memory);
    /// @notice Segment a pending targeted challenge asks for.
    function challengeSegment(bytes32 dealId, uint256 index) external view returns (uint256);
    /// @notice Segment a fill proof must reveal for `supplier` given the seed block.
    function fillSegment(bytes32 dealId, uint256 index, address supplier, uint256 seedBlock) external view returns (uint256);
    function supplierState(address supplier) external view returns (SupplierState memory);
    function slotCount(address supplier) external view returns (uint256);
    function slotAt(address supplier, uint256 position) external view returns (bytes32 slotId);
    /// @notice Up to `count` slot ids of `supplier`'s slot set from position `from` (fewer at its end).
    /// A slot id is its deal id with the slot's index in the low byte: dealId = id & ~0xff, index = uint8(id).
    function slotsOf(address supplier, uint256 from, uint256 count) external view returns (bytes32[] memory slotIds);
    function isProven(address supplier, uint256 period) external view returns (bool);
    function isMarkedMissed(address supplier, uint256 period) external view returns (bool);
    /// @notice The samples (slot ids and segments) `supplier` must answer for `period` (needs the seed readable).
    function periodSamples(address supplier, uint256 period) external view returns (bytes32[] memory slotIds, uint256[] memory segments);
    /// @notice What settleSlot would pay now.
    function pendingEarnings(bytes32 dealId, uint256 index) external view returns (uint256);
    function earnings(address account) external view returns (uint256);
    function totals(address account) external view returns (AccountTotals memory);
    /// @notice Escrow + bounties + pending challenge fees held for deals: with totalUnclaimed, the market's token balance.
    function totalEscrow() external view returns (uint256);
    function totalUnclaimed() external view returns (uint256);
}
