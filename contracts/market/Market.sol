// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IMarket} from "../interfaces/IMarket.sol";
import {IStaking} from "../interfaces/IStaking.sol";
import {MerkleProofLib} from "../libraries/MerkleProofLib.sol";
import {ProvenBits} from "../libraries/ProvenBits.sol";

/// @title The BitDust storage market.
/// @notice See IMarket. Proving cost is per supplier, not per slot: one period proof answers a few
/// samples drawn from every slot the supplier holds; payment is lazy (a bit per proven period per
/// supplier, counted per slot when the slot is settled), so nothing loops over other users' data.
contract Market is IMarket, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @dev Fill proofs name a seed block among the last FILL_SEED_AGE blocks.
    uint256 internal constant FILL_SEED_AGE = 64;
    uint256 internal constant BPS = 10_000;

    /// @dev Per-account money and work totals, laid out by what changes together: a credit touches
    /// word 0 only, a settlement words 0 and 1, a claim words 0 and 2. Proof counts live in SupplierState.
    struct Totals {
        uint128 unclaimed; // earnings not yet claimed
        uint128 earned;
        uint128 bytePeriodsStored;
        uint128 slashed;
        uint128 claimed;
        uint128 paid;
        uint128 refunded;
    }

    /// @dev SupplierState packed into one storage word (proof counters are uint32 here: 4 billion periods).
    struct SupplierSlot {
        uint32 obligedFrom;
        uint16 missStreak;
        bool jailed;
        uint32 proofsGiven;
        uint32 proofsMissed;
        uint32 lastProven;
        uint32 slotCount;
        uint64 bytesRepaired;
    }

    IERC20 private immutable _token;
    IStaking private immutable _staking;
    uint256 private immutable _genesis;
    uint256 private immutable _periodBlocks;
    uint256 private immutable _proofWindow;
    uint256 private immutable _samples;
    uint256 private immutable _fillDeadlineBlocks;
    uint256 private immutable _challengeWindow;
    uint256 private immutable _missesToJail;
    uint256 private immutable _maxDuration;
    uint256 private immutable _missSlashBps;
    uint256 private immutable _markerRewardBps;
    uint256 private immutable _repairBountyBps;
    uint256 private immutable _challengeFee;
    address private immutable _treasury;

    mapping(bytes32 dealId => Deal) private _deals;
    mapping(bytes32 slotId => Slot) private _slots;
    mapping(bytes32 slotId => Challenge) private _challenges;
    mapping(address supplier => SupplierSlot) private _suppliers;
    /// @dev Slot set per supplier: position => slot id; its size lives in SupplierState.slotCount so
    /// the hot paths read one word for both.
    mapping(address supplier => mapping(uint256 position => bytes32)) private _slotSets;
    mapping(address supplier => mapping(uint256 word => uint256)) private _proven;
    mapping(address supplier => mapping(uint256 word => uint256)) private _missed;
    mapping(address account => Totals) private _totals;
    uint256 private _totalEscrow;
    uint256 private _totalUnclaimed;

    constructor(address token_, address staking_, Config memory c) {
        if (c.periodBlocks == 0) revert MarketInvalidConfig("periodBlocks");
        if (c.proofWindow == 0 || c.proofWindow > 255 || c.proofWindow >= c.periodBlocks) revert MarketInvalidConfig("proofWindow");
        if (c.samplesPerPeriod == 0) revert MarketInvalidConfig("samplesPerPeriod");
        if (c.challengeWindow == 0 || c.challengeWindow > 255) revert MarketInvalidConfig("challengeWindow");
        if (c.missesToJail == 0) revert MarketInvalidConfig("missesToJail");
        if (c.maxDurationPeriods == 0 || c.maxDurationPeriods > type(uint32).max / 2) revert MarketInvalidConfig("maxDurationPeriods");
        if (c.missSlashBps > BPS || c.markerRewardBps > BPS || c.repairBountyBps > BPS) revert MarketInvalidConfig("bps");
        if (c.treasury == address(0)) revert MarketInvalidConfig("treasury");
        _token = IERC20(token_);
        _staking = IStaking(staking_);
        _genesis = block.number;
        _periodBlocks = c.periodBlocks;
        _proofWindow = c.proofWindow;
        _samples = c.samplesPerPeriod;
        _fillDeadlineBlocks = c.fillDeadlineBlocks;
        _challengeWindow = c.challengeWindow;
        _missesToJail = c.missesToJail;
        _maxDuration = c.maxDurationPeriods;
        _missSlashBps = c.missSlashBps;
        _markerRewardBps = c.markerRewardBps;
        _repairBountyBps = c.repairBountyBps;
        _challengeFee = c.challengeFee;
        _treasury = c.treasury;
    }

    // ================================================================ consumer

    /// @inheritdoc IMarket
    function openDeal(DealParams calldata params, bytes32 salt, bytes32[] calldata roots)
        external
        nonReentrant
        returns (bytes32 id)
    {
        return _openDeal(params, salt, roots);
    }

    /// @inheritdoc IMarket
    function openDealWithPermit(
        DealParams calldata params,
        bytes32 salt,
        bytes32[] calldata roots,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant returns (bytes32 id) {
        uint256 escrow = uint256(params.dataSlots + uint256(params.paritySlots)) * params.fragmentSize
            * params.pricePerBytePeriod * params.durationPeriods;
        // A front-run permit only spends the signature: the allowance is there either way.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), escrow, permitDeadline, v, r, s) {} catch {}
        return _openDeal(params, salt, roots);
    }

    function _openDeal(DealParams calldata p, bytes32 salt, bytes32[] calldata roots) private returns (bytes32 id) {
        uint256 slots = uint256(p.dataSlots) + p.paritySlots;
        if (p.dataSlots == 0 || slots > type(uint8).max) revert MarketInvalidSlotCount(p.dataSlots, p.paritySlots);
        uint256 size = p.fragmentSize;
        if (size == 0 || size % MerkleProofLib.SEGMENT_SIZE != 0 || size / MerkleProofLib.SEGMENT_SIZE > type(uint32).max) {
            revert MarketInvalidFragmentSize(size);
        }
        if (p.durationPeriods == 0 || p.durationPeriods > _maxDuration) revert MarketInvalidDuration(p.durationPeriods, _maxDuration);
        if (p.pricePerBytePeriod == 0) revert MarketInvalidPrice();
        if (roots.length != slots) revert MarketRootCount(slots, roots.length);
        id = _dealId(msg.sender, salt);
        Deal storage d = _deals[id];
        if (d.state != DealState.None) revert MarketDealExists(id);
        uint256 escrow = slots * size * p.pricePerBytePeriod * p.durationPeriods;
        uint256 deadline = block.number + _fillDeadlineBlocks;

        d.consumer = msg.sender;
        d.dataSlots = p.dataSlots;
        d.paritySlots = p.paritySlots;
        d.state = DealState.Open;
        d.deadlineBlock = uint64(deadline);
        d.fragmentSize = p.fragmentSize;
        d.durationPeriods = p.durationPeriods;
        d.pricePerBytePeriod = p.pricePerBytePeriod;
        d.collateralPerByte = p.collateralPerByte;
        d.escrow = escrow.toUint128();
        // The deal's own slots: bounded by 255 and paid for by this consumer.
        for (uint256 i = 0; i < slots; ++i) {
            bytes32 root = roots[i];
            if (root == bytes32(0)) revert MarketZeroRoot(i);
            _slots[_slotId(id, i)].root = root;
        }
        _totalEscrow += escrow;
        _totals[msg.sender].paid += uint128(escrow);
        emit DealOpened(id, msg.sender, p, deadline, escrow, roots);
        emit ConsumerPaid(msg.sender, id, escrow, "escrow");
        _token.safeTransferFrom(msg.sender, address(this), escrow);
    }

    /// @inheritdoc IMarket
    function extendDeal(bytes32 id, uint256 periods) external nonReentrant {
        _extendDeal(id, periods);
    }

    /// @inheritdoc IMarket
    function extendDealWithPermit(bytes32 id, uint256 periods, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        Deal storage d = _deals[id];
        uint256 amount = (uint256(d.dataSlots) + d.paritySlots) * d.fragmentSize * d.pricePerBytePeriod * periods;
        // As in openDealWithPermit: a front-run permit only spends the signature.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), amount, permitDeadline, v, r, s) {} catch {}
        _extendDeal(id, periods);
    }

    function _extendDeal(bytes32 id, uint256 periods) private {
        Deal storage d = _deals[id];
        DealStatus status = _status(d);
        if (status != DealStatus.Filling && status != DealStatus.Active) revert MarketDealNotActive(id, status);
        if (msg.sender != d.consumer) revert MarketNotConsumer(id, msg.sender);
        uint256 duration = uint256(d.durationPeriods) + periods;
        // The bound keeps a settlement's walk over the proven bits as short as for any deal.
        if (periods == 0 || duration > _maxDuration) revert MarketInvalidDuration(duration, _maxDuration);
        uint256 amount = (uint256(d.dataSlots) + d.paritySlots) * d.fragmentSize * d.pricePerBytePeriod * periods;
        d.durationPeriods = duration.toUint32();
        uint256 end = 0;
        if (status == DealStatus.Active) {
            end = uint256(d.endPeriod) + periods;
            d.endPeriod = end.toUint32();
        }
        d.escrow = (uint256(d.escrow) + amount).toUint128();
        _totalEscrow += amount;
        _totals[msg.sender].paid += amount.toUint128();
        emit DealExtended(id, periods, duration, end, amount);
        emit ConsumerPaid(msg.sender, id, amount, "extension");
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IMarket
    function cancelDeal(bytes32 id) external {
        Deal storage d = _deals[id];
        DealStatus status = _status(d);
        if (status != DealStatus.Filling && status != DealStatus.Active) revert MarketDealNotActive(id, status);
        if (msg.sender != d.consumer) revert MarketNotConsumer(id, msg.sender);
        uint256 end = d.endPeriod;
        if (status == DealStatus.Active) {
            uint256 current = _currentPeriod();
            // Periods before the current one stay payable; a deal not started yet pays nothing.
            end = current < d.startPeriod ? d.startPeriod : current;
            d.endPeriod = uint32(end);
        }
        d.state = DealState.Cancelled;
        emit DealCancelled(id, end);
    }

    /// @inheritdoc IMarket
    function finalizeDeal(bytes32 id) external nonReentrant {
        Deal storage d = _deals[id];
        DealStatus status = _status(d);
        if (status != DealStatus.Failed && status != DealStatus.Ended && status != DealStatus.Cancelled) {
            revert MarketDealNotOver(id, status);
        }
        if (d.filled != 0) revert MarketSlotsStillHeld(id, d.filled);
        uint256 refund = uint256(d.escrow) + d.bounty;
        address consumer = d.consumer;
        d.escrow = 0;
        d.bounty = 0;
        d.state = DealState.Finalized;
        _totalEscrow -= refund;
        _totals[consumer].refunded += uint128(refund);
        emit DealFinalized(id, consumer, refund);
        emit ConsumerRefunded(consumer, id, refund, "deal");
        if (refund > 0) _token.safeTransfer(consumer, refund);
    }

    // ================================================================ supplier

    /// @inheritdoc IMarket
    function fillSlot(bytes32 id, uint256 index, uint256 seedBlock, bytes calldata proof) external nonReentrant {
        Deal storage d = _deals[id];
        DealStatus status = _status(d);
        if (status != DealStatus.Filling && status != DealStatus.Active) revert MarketDealNotFilling(id, status);
        uint256 slots = _checkIndex(d, id, index);
        bytes32 sid = _slotId(id, index);
        Slot storage s = _slots[sid];
        address holder = s.holder;
        if (holder != address(0)) {
            // A jailed holder's slots are repairable: evict it lazily, here.
            if (status != DealStatus.Active || !_suppliers[holder].jailed) revert MarketSlotNotFree(id, index, holder);
            _free(d, id, index, sid, s, holder, FreeReason.HolderJailed, address(0));
        }
        if (_suppliers[msg.sender].jailed) revert MarketSupplierJailed(msg.sender);
        uint256 size = d.fragmentSize;
        uint256 segments = size / MerkleProofLib.SEGMENT_SIZE;
        _checkFillProof(id, index, seedBlock, proof, sid, s.root, segments);
        _occupy(s, sid, segments);
        _afterFill(d, id, index, slots, size, status == DealStatus.Active);
    }

    /// @dev Puts the slot into the caller's set (O(1)); obligations start the period after its first slot.
    function _occupy(Slot storage s, bytes32 sid, uint256 segments) private {
        uint256 period = _currentPeriod();
        SupplierSlot storage st = _suppliers[msg.sender];
        uint256 position = st.slotCount;
        if (position == 0) st.obligedFrom = uint32(period + 1);
        st.slotCount = uint32(position + 1);
        s.holder = msg.sender;
        s.setIndex = uint32(position);
        s.segments = uint32(segments);
        s.paidFrom = uint32(period + 1);
        _slotSets[msg.sender][position] = sid;
    }

    function _afterFill(Deal storage d, bytes32 id, uint256 index, uint256 slots, uint256 size, bool repair) private {
        uint256 filledBefore = d.filled;
        d.filled = uint8(filledBefore + 1);
        uint256 collateral = size * d.collateralPerByte;
        uint256 period = _currentPeriod();
        emit SlotFilled(id, index, msg.sender, collateral, period, repair);
        if (repair) {
            _payRepair(d, id, index, slots - filledBefore, size);
        } else if (filledBefore + 1 == slots) {
            uint256 start = period + 1;
            uint256 end = start + d.durationPeriods;
            d.state = DealState.Active;
            d.startPeriod = uint32(start);
            d.endPeriod = uint32(end);
            d.boundUntil = uint32(end);
            emit DealStarted(id, start, end);
        }
        _staking.lockCollateral(msg.sender, collateral);
    }

    /// @inheritdoc IMarket
    function provePeriod(uint256 period, bytes calldata proofs) external {
        uint256 current = _currentPeriod();
        if (period != current) revert MarketPeriodNotCurrent(period, current);
        uint256 start = _genesis + period * _periodBlocks;
        if (block.number == start) revert MarketSeedUnavailable(period);
        if (block.number > start + _proofWindow) revert MarketProofWindowClosed(period, start + _proofWindow);
        SupplierSlot storage st = _suppliers[msg.sender];
        if (st.jailed) revert MarketSupplierJailed(msg.sender);
        uint256 n = st.slotCount;
        if (n == 0) revert MarketNoSlots(msg.sender);
        mapping(uint256 => uint256) storage proven = _proven[msg.sender];
        uint256 word = proven[period >> 8];
        uint256 bit = 1 << (period & 255);
        if (word & bit != 0) revert MarketAlreadyProven(msg.sender, period);

        _verifySamples(_slotSets[msg.sender], n, blockhash(start), period, proofs);

        proven[period >> 8] = word | bit;
        st.missStreak = 0;
        st.proofsGiven += 1;
        st.lastProven = uint32(period);
        emit PeriodProven(msg.sender, period, n);
    }

    /// @inheritdoc IMarket
    function answerChallenge(bytes32 id, uint256 index, bytes calldata proof) external nonReentrant {
        _checkIndex(_deals[id], id, index);
        bytes32 sid = _slotId(id, index);
        Challenge storage c = _challenges[sid];
        if (c.challenger == address(0)) revert MarketNoChallenge(id, index);
        Slot storage s = _slots[sid];
        if (s.holder != msg.sender) revert MarketNotHolder(id, index, msg.sender);
        uint256 issued = c.issuedBlock;
        if (block.number > issued + _challengeWindow) revert MarketChallengeWindowClosed(id, index, issued + _challengeWindow);
        uint256 segments = s.segments;
        _verifySingle(proof, sid, s.root, _targetedSegment(sid, issued, msg.sender, segments), segments);
        uint256 fee = c.feePaid ? _challengeFee : 0;
        delete _challenges[sid];
        emit ChallengeAnswered(id, index, msg.sender, fee);
        if (fee > 0) {
            _totalEscrow -= fee;
            _credit(msg.sender, fee, id, "challenge-fee");
        }
    }

    /// @inheritdoc IMarket
    function settleSlot(bytes32 id, uint256 index) external {
        Deal storage d = _deals[id];
        _checkIndex(d, id, index);
        Slot storage s = _slots[_slotId(id, index)];
        address holder = s.holder;
        if (holder == address(0)) revert MarketSlotNotFilled(id, index);
        _settle(d, id, index, s, holder);
    }

    /// @inheritdoc IMarket
    function releaseSlot(bytes32 id, uint256 index) external nonReentrant {
        Deal storage d = _deals[id];
        DealStatus status = _status(d);
        if (status != DealStatus.Failed && status != DealStatus.Ended && status != DealStatus.Cancelled) {
            revert MarketDealNotOver(id, status);
        }
        _checkIndex(d, id, index);
        bytes32 sid = _slotId(id, index);
        Slot storage s = _slots[sid];
        address holder = s.holder;
        if (holder == address(0)) revert MarketSlotNotFilled(id, index);
        uint256 collateral = _vacate(d, id, index, sid, s, holder);
        if (_suppliers[holder].jailed) {
            // A jailed holder that was never replaced forfeits the collateral to the consumer.
            emit SlotReleased(id, index, holder, 0);
            uint256 slashed = _staking.slash(holder, collateral, collateral);
            d.bounty += uint128(slashed);
            _totalEscrow += slashed;
            _totals[holder].slashed += uint128(slashed);
            emit SupplierSlashed(holder, id, slashed, "jailed-at-release");
        } else {
            emit SlotReleased(id, index, holder, collateral);
            _staking.unlockCollateral(holder, collateral);
        }
    }

    /// @inheritdoc IMarket
    function leaveSlot(bytes32 id, uint256 index) external nonReentrant {
        (Deal storage d, bytes32 sid, Slot storage s) = _activeSlot(id, index);
        if (s.holder != msg.sender) revert MarketNotHolder(id, index, msg.sender);
        if (_challenges[sid].challenger != address(0)) revert MarketChallengePending(id, index);
        // The slot set decides which slots the period's samples hit: once the seed is out, a holder
        // could otherwise leave a slot to move the samples off data it lost.
        SupplierSlot storage st = _suppliers[msg.sender];
        uint256 period = _currentPeriod();
        uint256 closes = _genesis + period * _periodBlocks + _proofWindow;
        if (period >= st.obligedFrom && block.number <= closes && !(st.proofsGiven != 0 && st.lastProven == period)) {
            revert MarketProveBeforeLeaving(period, closes);
        }
        if (period < d.boundUntil) {
            _free(d, id, index, sid, s, msg.sender, FreeReason.HolderLeft, address(0));
            return;
        }
        // Past the term the deal started with: extensions bind the consumer's money, not the holders.
        uint256 collateral = _vacate(d, id, index, sid, s, msg.sender);
        emit SlotFreed(id, index, msg.sender, FreeReason.HolderLeft, 0);
        _staking.unlockCollateral(msg.sender, collateral);
    }

    /// @inheritdoc IMarket
    function claim() external nonReentrant returns (uint256 amount) {
        Totals storage t = _totals[msg.sender];
        amount = t.unclaimed;
        if (amount == 0) revert MarketNothingToClaim(msg.sender);
        t.unclaimed = 0;
        _totalUnclaimed -= amount;
        t.claimed += uint128(amount);
        emit EarningsClaimed(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    // ================================================================ anyone

    /// @inheritdoc IMarket
    function markMissed(address supplier, uint256 period) external nonReentrant {
        uint256 closes = _genesis + period * _periodBlocks + _proofWindow;
        if (block.number <= closes) revert MarketProofWindowOpen(period, closes);
        SupplierSlot storage st = _suppliers[supplier];
        if (st.jailed) revert MarketSupplierJailed(supplier);
        if (st.slotCount == 0 || period < st.obligedFrom || (st.proofsGiven != 0 && period <= st.lastProven)) {
            revert MarketNotObliged(supplier, period);
        }
        // A proven period is never after lastProven, so the check above also rejects it.
        uint256 bit = 1 << (period & 255);
        uint256 word = _missed[supplier][period >> 8];
        if (word & bit != 0) revert MarketAlreadyMarked(supplier, period);
        _missed[supplier][period >> 8] = word | bit;
        uint256 streak = st.missStreak + 1;
        st.missStreak = uint16(streak);
        st.proofsMissed += 1;
        bool jail = streak >= _missesToJail;
        if (jail) st.jailed = true;

        uint256 amount = uint256(_staking.stakeOf(supplier).locked) * _missSlashBps / BPS;
        uint256 slashed = _staking.slash(supplier, amount, 0);
        uint256 reward = slashed * _markerRewardBps / BPS;
        _totals[supplier].slashed += uint128(slashed);
        emit PeriodMissed(supplier, period, msg.sender, slashed, reward, streak);
        emit SupplierSlashed(supplier, bytes32(0), slashed, "missed-period");
        if (jail) emit SupplierJailed(supplier, period);
        if (reward > 0) _credit(msg.sender, reward, bytes32(0), "mark-reward");
        if (slashed > reward) _credit(_treasury, slashed - reward, bytes32(0), "miss-slash");
    }

    /// @inheritdoc IMarket
    function challengeSlot(bytes32 id, uint256 index) external nonReentrant {
        (Deal storage d, bytes32 sid, Slot storage s) = _activeSlot(id, index);
        address holder = s.holder;
        if (holder == address(0)) revert MarketSlotNotFilled(id, index);
        Challenge storage c = _challenges[sid];
        if (c.challenger != address(0)) revert MarketChallengePending(id, index);
        uint256 fee = msg.sender == d.consumer ? 0 : _challengeFee;
        c.challenger = msg.sender;
        c.issuedBlock = uint64(block.number);
        c.feePaid = fee > 0;
        emit ChallengeIssued(
            id, index, msg.sender, holder, fee, _targetedSegment(sid, block.number, holder, s.segments), block.number + _challengeWindow
        );
        if (fee > 0) {
            _totalEscrow += fee;
            _totals[msg.sender].paid += uint128(fee);
            emit ConsumerPaid(msg.sender, id, fee, "challenge-fee");
            _token.safeTransferFrom(msg.sender, address(this), fee);
        }
    }

    /// @inheritdoc IMarket
    function expireChallenge(bytes32 id, uint256 index) external nonReentrant {
        Deal storage d = _deals[id];
        _checkIndex(d, id, index);
        bytes32 sid = _slotId(id, index);
        Challenge storage c = _challenges[sid];
        if (c.challenger == address(0)) revert MarketNoChallenge(id, index);
        uint256 deadline = uint256(c.issuedBlock) + _challengeWindow;
        if (block.number <= deadline) revert MarketChallengeWindowOpen(id, index, deadline);
        Slot storage s = _slots[sid];
        _free(d, id, index, sid, s, s.holder, FreeReason.ChallengeExpired, msg.sender);
    }

    // ================================================================ internals

    /// @dev Takes a failed (or leaving) holder off a slot: pays what it earned, slashes the slot's collateral into
    /// the deal's bounty (a share to `caller`), refunds a pending challenge fee, frees the slot.
    function _free(
        Deal storage d,
        bytes32 id,
        uint256 index,
        bytes32 sid,
        Slot storage s,
        address holder,
        FreeReason reason,
        address caller
    ) private {
        uint256 collateral = _vacate(d, id, index, sid, s, holder);
        uint256 slashed = _staking.slash(holder, collateral, collateral);
        uint256 reward = caller == address(0) ? 0 : slashed * _markerRewardBps / BPS;
        d.bounty += uint128(slashed - reward);
        _totalEscrow += slashed - reward;
        _totals[holder].slashed += uint128(slashed);
        emit SlotFreed(id, index, holder, reason, slashed);
        emit SupplierSlashed(
            holder, id, slashed, reason == FreeReason.ChallengeExpired ? "challenge-expired" : reason == FreeReason.HolderJailed ? "jailed" : "left"
        );
        if (reason == FreeReason.ChallengeExpired) emit ChallengeExpired(id, index, holder, caller, slashed, reward);
        if (reward > 0) _credit(caller, reward, id, "expire-reward");
    }

    /// @dev A slot of a running deal, checked to exist.
    function _activeSlot(bytes32 id, uint256 index) private view returns (Deal storage d, bytes32 sid, Slot storage s) {
        d = _deals[id];
        DealStatus status = _status(d);
        if (status != DealStatus.Active) revert MarketDealNotActive(id, status);
        _checkIndex(d, id, index);
        sid = _slotId(id, index);
        s = _slots[sid];
    }

    /// @dev Takes the holder off a slot (paid what it earned, a pending challenge refunded, out of its
    /// set); returns the slot's collateral, which the caller returns or slashes.
    function _vacate(Deal storage d, bytes32 id, uint256 index, bytes32 sid, Slot storage s, address holder) private returns (uint256) {
        _settle(d, id, index, s, holder);
        _clearChallenge(id, sid);
        _removeFromSet(holder, s);
        s.holder = address(0);
        d.filled -= 1;
        return uint256(d.fragmentSize) * d.collateralPerByte;
    }

    /// @dev Sample j: r = keccak256(abi.encode(seed, supplier, period, j)); slot = set[r % n];
    /// segment = (r >> 128) % segments. Mirrored by node/proofs/challenge.ts.
    function _verifySamples(mapping(uint256 => bytes32) storage set, uint256 n, bytes32 seed, uint256 period, bytes calldata proofs) private view {
        uint256 offset = 0;
        for (uint256 j = 0; j < _samples; ++j) {
            uint256 r = uint256(keccak256(abi.encode(seed, msg.sender, period, j)));
            bytes32 sid = set[r % n];
            Slot storage s = _slots[sid];
            uint256 segments = s.segments;
            uint256 segment = (r >> 128) % segments;
            uint256 depth = MerkleProofLib.depthOf(segments);
            uint256 end = offset + MerkleProofLib.sampleLength(depth);
            if (end > proofs.length) revert MarketProofLength(end, proofs.length);
            if (!MerkleProofLib.verifyCalldata(proofs, offset, s.root, segment, depth)) revert MarketInvalidProof(sid, segment, j);
            offset = end;
        }
        if (offset != proofs.length) revert MarketProofLength(offset, proofs.length);
    }

    function _checkFillProof(
        bytes32 id,
        uint256 index,
        uint256 seedBlock,
        bytes calldata proof,
        bytes32 sid,
        bytes32 root,
        uint256 segments
    ) private view {
        if (seedBlock >= block.number || block.number - seedBlock > FILL_SEED_AGE) revert MarketSeedBlockInvalid(seedBlock, block.number);
        uint256 segment = uint256(keccak256(abi.encode(blockhash(seedBlock), msg.sender, id, index))) % segments;
        _verifySingle(proof, sid, root, segment, segments);
    }

    /// @dev The repairer of one of `freed` free slots gets repairBountyBps of an even share of the bounty.
    function _payRepair(Deal storage d, bytes32 id, uint256 index, uint256 freed, uint256 size) private {
        uint256 bounty = d.bounty / freed * _repairBountyBps / BPS;
        d.bounty -= uint128(bounty);
        _suppliers[msg.sender].bytesRepaired += uint64(size);
        _totalEscrow -= bounty;
        emit RepairBountyPaid(id, index, msg.sender, bounty, size);
        _credit(msg.sender, bounty, id, "repair");
    }

    /// @dev A pending challenge dies with the holder it targeted: its fee goes back to the challenger.
    function _clearChallenge(bytes32 id, bytes32 sid) private {
        Challenge storage c = _challenges[sid];
        address challenger = c.challenger;
        if (challenger == address(0)) return;
        bool feePaid = c.feePaid;
        delete _challenges[sid];
        if (feePaid) {
            _totalEscrow -= _challengeFee;
            _totals[challenger].refunded += uint128(_challengeFee);
            emit ConsumerRefunded(challenger, id, _challengeFee, "challenge-fee");
            _totals[challenger].unclaimed += uint128(_challengeFee);
            _totalUnclaimed += _challengeFee;
            emit EarningsCredited(challenger, _challengeFee, id, "challenge-fee-refund");
        }
    }

    /// @dev Pays the holder for every proven period since the slot was last settled, up to the current
    /// period (exclusive) and the deal's end.
    function _settle(Deal storage d, bytes32 id, uint256 index, Slot storage s, address holder) private {
        uint256 from = s.paidFrom;
        uint256 start = d.startPeriod;
        if (start == 0) return; // never started: nothing earned
        if (from < start) from = start;
        uint256 to = _currentPeriod();
        uint256 end = d.endPeriod;
        if (to > end) to = end;
        if (to <= from) return;
        s.paidFrom = uint32(to);
        uint256 count = ProvenBits.count(_proven[holder], from, to);
        if (count == 0) return;
        uint256 size = d.fragmentSize;
        uint256 amount = count * size * d.pricePerBytePeriod;
        d.escrow -= uint128(amount);
        _totalEscrow -= amount;
        _totals[holder].bytePeriodsStored += uint128(count * size);
        emit SlotSettled(id, index, holder, amount, count, count * size, to);
        _credit(holder, amount, id, "storage");
    }

    function _credit(address account, uint256 amount, bytes32 id, string memory reason) private {
        Totals storage t = _totals[account];
        t.unclaimed += uint128(amount);
        t.earned += uint128(amount);
        _totalUnclaimed += amount;
        emit EarningsCredited(account, amount, id, reason);
    }

    /// @dev O(1) swap-and-pop; the moved slot learns its new position.
    function _removeFromSet(address holder, Slot storage s) private {
        mapping(uint256 => bytes32) storage set = _slotSets[holder];
        SupplierSlot storage st = _suppliers[holder];
        uint256 i = s.setIndex;
        uint256 last = st.slotCount - 1;
        if (i != last) {
            bytes32 moved = set[last];
            set[i] = moved;
            _slots[moved].setIndex = uint32(i);
        }
        delete set[last];
        st.slotCount = uint32(last);
    }

    function _verifySingle(bytes calldata proof, bytes32 sid, bytes32 root, uint256 segment, uint256 segments) private view {
        uint256 depth = MerkleProofLib.depthOf(segments);
        uint256 len = MerkleProofLib.sampleLength(depth);
        if (proof.length != len) revert MarketProofLength(len, proof.length);
        if (!MerkleProofLib.verifyCalldata(proof, 0, root, segment, depth)) revert MarketInvalidProof(sid, segment, 0);
    }

    function _targetedSegment(bytes32 sid, uint256 issuedBlock, address holder, uint256 segments) private view returns (uint256) {
        return uint256(keccak256(abi.encode(blockhash(issuedBlock - 1), sid, issuedBlock, holder))) % segments;
    }

    function _checkIndex(Deal storage d, bytes32 id, uint256 index) private view returns (uint256 slots) {
        if (d.state == DealState.None) revert MarketDealNotFound(id);
        slots = uint256(d.dataSlots) + d.paritySlots;
        if (index >= slots) revert MarketSlotOutOfRange(id, index, slots);
    }

    function _status(Deal storage d) private view returns (DealStatus) {
        DealState state = d.state;
        if (state == DealState.Open) return block.number >= d.deadlineBlock ? DealStatus.Failed : DealStatus.Filling;
        if (state == DealState.Active) return _currentPeriod() >= d.endPeriod ? DealStatus.Ended : DealStatus.Active;
        if (state == DealState.Cancelled) return DealStatus.Cancelled;
        if (state == DealState.Finalized) return DealStatus.Finalized;
        return DealStatus.None;
    }

    function _currentPeriod() private view returns (uint256) {
        return (block.number - _genesis) / _periodBlocks;
    }

    /// @dev A deal id's low byte is zero, so that a slot id is its deal id with the index in that
    /// byte (slots <= 255): anyone can tell a slot's deal from its id, which lets a supplier's slot
    /// set (slotsOf) name the deals it holds without an index of its own or a scan of old events.
    function _dealId(address consumer, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(consumer, salt)) & ~bytes32(uint256(0xff));
    }

    function _slotId(bytes32 id, uint256 index) private pure returns (bytes32) {
        return id | bytes32(index);
    }

    // ================================================================ views

    /// @inheritdoc IMarket
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IMarket
    function staking() external view returns (address) {
        return address(_staking);
    }

    /// @inheritdoc IMarket
    function config() external view returns (Config memory) {
        return Config(
            uint64(_periodBlocks),
            uint64(_proofWindow),
            uint64(_samples),
            uint64(_fillDeadlineBlocks),
            uint64(_challengeWindow),
            uint64(_missesToJail),
            uint64(_maxDuration),
            uint16(_missSlashBps),
            uint16(_markerRewardBps),
            uint16(_repairBountyBps),
            _challengeFee,
            _treasury
        );
    }

    /// @inheritdoc IMarket
    function genesisBlock() external view returns (uint256) {
        return _genesis;
    }

    /// @inheritdoc IMarket
    function currentPeriod() external view returns (uint256) {
        return _currentPeriod();
    }

    /// @inheritdoc IMarket
    function periodStartBlock(uint256 period) external view returns (uint256) {
        return _genesis + period * _periodBlocks;
    }

    /// @inheritdoc IMarket
    function periodSeed(uint256 period) external view returns (bytes32) {
        return blockhash(_genesis + period * _periodBlocks);
    }

    /// @inheritdoc IMarket
    function dealId(address consumer, bytes32 salt) external pure returns (bytes32) {
        return _dealId(consumer, salt);
    }

    /// @inheritdoc IMarket
    function slotId(bytes32 id, uint256 index) external pure returns (bytes32) {
        return _slotId(id, index);
    }

    /// @inheritdoc IMarket
    function getDeal(bytes32 id) external view returns (Deal memory) {
        return _deals[id];
    }

    /// @inheritdoc IMarket
    function dealStatus(bytes32 id) external view returns (DealStatus) {
        return _status(_deals[id]);
    }

    /// @inheritdoc IMarket
    function getSlot(bytes32 id, uint256 index) external view returns (Slot memory) {
        return _slots[_slotId(id, index)];
    }

    /// @inheritdoc IMarket
    function getChallenge(bytes32 id, uint256 index) external view returns (Challenge memory) {
        return _challenges[_slotId(id, index)];
    }

    /// @inheritdoc IMarket
    function challengeSegment(bytes32 id, uint256 index) external view returns (uint256) {
        bytes32 sid = _slotId(id, index);
        Challenge storage c = _challenges[sid];
        if (c.challenger == address(0)) revert MarketNoChallenge(id, index);
        Slot storage s = _slots[sid];
        return _targetedSegment(sid, c.issuedBlock, s.holder, s.segments);
    }

    /// @inheritdoc IMarket
    function fillSegment(bytes32 id, uint256 index, address supplier, uint256 seedBlock) external view returns (uint256) {
        uint256 segments = uint256(_deals[id].fragmentSize) / MerkleProofLib.SEGMENT_SIZE;
        if (segments == 0) revert MarketDealNotFound(id);
        return uint256(keccak256(abi.encode(blockhash(seedBlock), supplier, id, index))) % segments;
    }

    /// @inheritdoc IMarket
    function supplierState(address supplier) external view returns (SupplierState memory) {
        SupplierSlot storage st = _suppliers[supplier];
        return SupplierState(
            st.obligedFrom, st.missStreak, st.jailed, st.proofsGiven, st.proofsMissed, st.lastProven, st.slotCount, st.bytesRepaired
        );
    }

    /// @inheritdoc IMarket
    function slotCount(address supplier) external view returns (uint256) {
        return _suppliers[supplier].slotCount;
    }

    /// @inheritdoc IMarket
    function slotAt(address supplier, uint256 position) external view returns (bytes32) {
        if (position >= _suppliers[supplier].slotCount) revert MarketNoSlots(supplier);
        return _slotSets[supplier][position];
    }

    /// @inheritdoc IMarket
    function slotsOf(address supplier, uint256 from, uint256 count) external view returns (bytes32[] memory ids) {
        uint256 n = _suppliers[supplier].slotCount;
        uint256 end = from >= n ? from : (count > n - from ? n : from + count);
        ids = new bytes32[](end - from);
        mapping(uint256 => bytes32) storage set = _slotSets[supplier];
        for (uint256 i = from; i < end; ++i) ids[i - from] = set[i];
    }

    /// @inheritdoc IMarket
    function isProven(address supplier, uint256 period) external view returns (bool) {
        return _proven[supplier][period >> 8] & (1 << (period & 255)) != 0;
    }

    /// @inheritdoc IMarket
    function isMarkedMissed(address supplier, uint256 period) external view returns (bool) {
        return _missed[supplier][period >> 8] & (1 << (period & 255)) != 0;
    }

    /// @inheritdoc IMarket
    function periodSamples(address supplier, uint256 period)
        external
        view
        returns (bytes32[] memory slotIds, uint256[] memory segments)
    {
        bytes32 seed = blockhash(_genesis + period * _periodBlocks);
        mapping(uint256 => bytes32) storage set = _slotSets[supplier];
        uint256 n = _suppliers[supplier].slotCount;
        if (n == 0) revert MarketNoSlots(supplier);
        slotIds = new bytes32[](_samples);
        segments = new uint256[](_samples);
        for (uint256 j = 0; j < _samples; ++j) {
            uint256 r = uint256(keccak256(abi.encode(seed, supplier, period, j)));
            bytes32 sid = set[r % n];
            slotIds[j] = sid;
            segments[j] = (r >> 128) % _slots[sid].segments;
        }
    }

    /// @inheritdoc IMarket
    function pendingEarnings(bytes32 id, uint256 index) external view returns (uint256) {
        Deal storage d = _deals[id];
        Slot storage s = _slots[_slotId(id, index)];
        uint256 start = d.startPeriod;
        if (s.holder == address(0) || start == 0) return 0;
        uint256 from = s.paidFrom < start ? start : s.paidFrom;
        uint256 to = _currentPeriod();
        if (to > d.endPeriod) to = d.endPeriod;
        if (to <= from) return 0;
        return ProvenBits.count(_proven[s.holder], from, to) * d.fragmentSize * d.pricePerBytePeriod;
    }

    /// @inheritdoc IMarket
    function earnings(address account) external view returns (uint256) {
        return _totals[account].unclaimed;
    }

    /// @inheritdoc IMarket
    function totals(address account) external view returns (AccountTotals memory t) {
        Totals storage x = _totals[account];
        SupplierSlot storage st = _suppliers[account];
        t.bytePeriodsStored = x.bytePeriodsStored;
        t.proofsGiven = st.proofsGiven;
        t.proofsMissed = st.proofsMissed;
        t.bytesRepaired = st.bytesRepaired;
        t.earned = x.earned;
        t.slashed = x.slashed;
        t.paid = x.paid;
        t.refunded = x.refunded;
        t.claimed = x.claimed;
    }

    /// @inheritdoc IMarket
    function totalEscrow() external view returns (uint256) {
        return _totalEscrow;
    }

    /// @inheritdoc IMarket
    function totalUnclaimed() external view returns (uint256) {
        return _totalUnclaimed;
    }
}
