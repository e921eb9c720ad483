// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IStaking} from "../interfaces/IStaking.sol";

/// @title Supplier registry and stake; the market locks collateral from it and is the only slasher.
contract Staking is IStaking, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @dev Packed: word 0 is read and written on every lock/unlock; the registered flag rides in
    /// word 1 so the market's fill path checks registration without touching the peer id.
    struct StakeSlot {
        uint128 staked;
        uint128 locked;
        uint128 unbonding;
        uint64 unlockBlock;
        bool registered;
    }

    IERC20 private immutable _token;
    address private immutable _owner;
    uint256 private immutable _unbondingBlocks;
    address private _market;
    uint256 private _totalStaked;
    mapping(address => Supplier) private _suppliers;
    mapping(address => StakeSlot) private _stakes;

    modifier onlyMarket() {
        if (msg.sender != _market) revert StakingNotMarket(msg.sender);
        _;
    }

    /// @param token_ the staked token
    /// @param unbondingBlocks_ blocks between requestUnbond and withdraw
    constructor(address token_, uint256 unbondingBlocks_) {
        _token = IERC20(token_);
        _owner = msg.sender;
        _unbondingBlocks = unbondingBlocks_;
    }

    /// @inheritdoc IStaking
    function setMarket(address market_) external {
        if (msg.sender != _owner) revert StakingNotOwner(msg.sender);
        if (_market != address(0)) revert StakingMarketAlreadySet(_market);
        _market = market_;
        emit MarketSet(market_);
    }

    /// @inheritdoc IStaking
    function register(bytes calldata peerId, uint256 capacity, uint256 pricePerBytePeriod) external {
        if (peerId.length == 0) revert StakingEmptyPeerId();
        _suppliers[msg.sender] = Supplier(peerId, capacity, pricePerBytePeriod);
        _stakes[msg.sender].registered = true;
        emit SupplierRegistered(msg.sender, peerId, capacity, pricePerBytePeriod);
    }

    /// @inheritdoc IStaking
    function stake(uint256 amount) external nonReentrant {
        _stake(amount);
    }

    /// @inheritdoc IStaking
    function stakeWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external nonReentrant {
        // A front-run permit only spends the signature: the allowance is there either way.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _stake(amount);
    }

    function _stake(uint256 amount) private {
        if (amount == 0) revert StakingZeroAmount();
        StakeSlot storage st = _stakes[msg.sender];
        if (!st.registered) revert StakingNotRegistered(msg.sender);
        uint256 staked = st.staked + amount;
        st.staked = staked.toUint128();
        _totalStaked += amount;
        emit Staked(msg.sender, amount, staked);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IStaking
    function requestUnbond(uint256 amount) external {
        if (amount == 0) revert StakingZeroAmount();
        StakeSlot storage st = _stakes[msg.sender];
        uint256 free = _free(st);
        if (amount > free) revert StakingInsufficientStake(msg.sender, free, amount);
        uint256 unlock = block.number + _unbondingBlocks;
        st.unbonding = (st.unbonding + amount).toUint128();
        st.unlockBlock = unlock.toUint64();
        emit UnbondRequested(msg.sender, amount, unlock);
    }

    /// @inheritdoc IStaking
    function withdraw() external nonReentrant {
        StakeSlot storage st = _stakes[msg.sender];
        uint256 unbonding = st.unbonding;
        if (unbonding == 0) revert StakingNothingUnbonding(msg.sender);
        if (block.number < st.unlockBlock) revert StakingStillBonded(msg.sender, st.unlockBlock, block.number);
        // Slashes taken while unbonding come out of it first: never pay out stake that backs collateral.
        uint256 staked = st.staked;
        uint256 locked = st.locked;
        uint256 amount = staked > locked ? staked - locked : 0;
        if (amount > unbonding) amount = unbonding;
        st.unbonding = 0;
        st.unlockBlock = 0;
        st.staked = (staked - amount).toUint128();
        _totalStaked -= amount;
        emit Withdrawn(msg.sender, amount);
        if (amount > 0) _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IStaking
    function lockCollateral(address supplier_, uint256 amount) external onlyMarket {
        StakeSlot storage st = _stakes[supplier_];
        if (!st.registered) revert StakingNotRegistered(supplier_);
        uint256 free = _free(st);
        if (amount > free) revert StakingInsufficientStake(supplier_, free, amount);
        uint256 locked = st.locked + amount;
        st.locked = uint128(locked); // <= staked, which fits
        emit CollateralLocked(supplier_, amount, locked);
    }

    /// @inheritdoc IStaking
    function unlockCollateral(address supplier_, uint256 amount) external onlyMarket {
        StakeSlot storage st = _stakes[supplier_];
        uint256 locked = st.locked;
        if (amount > locked) amount = locked;
        locked -= amount;
        st.locked = uint128(locked);
        emit CollateralUnlocked(supplier_, amount, locked);
    }

    /// @inheritdoc IStaking
    function slash(address supplier_, uint256 amount, uint256 release) external onlyMarket nonReentrant returns (uint256 slashed) {
        StakeSlot storage st = _stakes[supplier_];
        uint256 locked = st.locked;
        if (release > locked) release = locked;
        uint256 staked = st.staked;
        slashed = amount > staked ? staked : amount;
        st.locked = uint128(locked - release);
        st.staked = uint128(staked - slashed);
        _totalStaked -= slashed;
        emit StakeSlashed(supplier_, slashed, release);
        if (slashed > 0) _token.safeTransfer(msg.sender, slashed);
    }

    function _free(StakeSlot storage st) private view returns (uint256) {
        uint256 used = uint256(st.locked) + st.unbonding;
        uint256 staked = st.staked;
        return staked > used ? staked - used : 0;
    }

    /// @inheritdoc IStaking
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IStaking
    function market() external view returns (address) {
        return _market;
    }

    /// @inheritdoc IStaking
    function unbondingBlocks() external view returns (uint256) {
        return _unbondingBlocks;
    }

    /// @inheritdoc IStaking
    function isRegistered(address supplier_) external view returns (bool) {
        return _stakes[supplier_].registered;
    }

    /// @inheritdoc IStaking
    function supplier(address supplier_) external view returns (Supplier memory) {
        return _suppliers[supplier_];
    }

    /// @inheritdoc IStaking
    function stakeOf(address supplier_) external view returns (Stake memory) {
        StakeSlot storage st = _stakes[supplier_];
        return Stake(st.staked, st.locked, st.unbonding, st.unlockBlock);
    }

    /// @inheritdoc IStaking
    function freeStake(address supplier_) external view returns (uint256) {
        return _free(_stakes[supplier_]);
    }

    /// @inheritdoc IStaking
    function totalStaked() external view returns (uint256) {
        return _totalStaked;
    }
}
