// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Supplier registry and staking.
/// @notice A supplier registers its libp2p peer id, capacity and price, then stakes tokens. The market
/// locks part of the stake as collateral for each slot the supplier holds; locked stake cannot be
/// withdrawn. Withdrawal is two-step: requestUnbond moves free stake to unbonding, withdraw pays it
/// out after `unbondingBlocks`. Unbonding stake can still be slashed. Only the market slashes.
interface IStaking {
    /// @notice Registration data published by a supplier.
    struct Supplier {
        bytes peerId; // libp2p peer id (binary multihash)
        uint256 capacity; // bytes offered
        uint256 pricePerBytePeriod; // asking price, token base units per byte per period
    }

    /// @notice Stake of a supplier. free = staked - locked - unbonding (0 when negative).
    struct Stake {
        uint128 staked; // tokens held for the supplier (includes locked and unbonding)
        uint128 locked; // collateral backing slots it holds
        uint128 unbonding; // requested for withdrawal
        uint64 unlockBlock; // block from which `unbonding` can be withdrawn
    }

    error StakingNotMarket(address caller);
    error StakingNotOwner(address caller);
    error StakingMarketAlreadySet(address market);
    error StakingZeroAmount();
    error StakingEmptyPeerId();
    error StakingNotRegistered(address supplier);
    /// @notice Free stake is below what the action needs.
    error StakingInsufficientStake(address supplier, uint256 available, uint256 needed);
    error StakingNothingUnbonding(address supplier);
    /// @notice The unbonding delay has not passed yet.
    error StakingStillBonded(address supplier, uint256 unlockBlock, uint256 currentBlock);

    event MarketSet(address indexed market);
    event SupplierRegistered(address indexed supplier, bytes peerId, uint256 capacity, uint256 pricePerBytePeriod);
    event Staked(address indexed supplier, uint256 amount, uint256 totalStaked);
    event UnbondRequested(address indexed supplier, uint256 amount, uint256 unlockBlock);
    event Withdrawn(address indexed supplier, uint256 amount);
    event CollateralLocked(address indexed supplier, uint256 amount, uint256 totalLocked);
    event CollateralUnlocked(address indexed supplier, uint256 amount, uint256 totalLocked);
    /// @notice `amount` of stake went to the market; `released` of locked collateral stopped being locked.
    event StakeSlashed(address indexed supplier, uint256 amount, uint256 released);

    /// @notice One-time wiring by the deployer: the market that may lock, unlock and slash.
    function setMarket(address market) external;

    /// @notice Registers or updates the caller's offer.
    function register(bytes calldata peerId, uint256 capacity, uint256 pricePerBytePeriod) external;

    /// @notice Pulls `amount` tokens from the caller (approve first) and adds them to its stake.
    function stake(uint256 amount) external;

    /// @notice stake() with an EIP-2612 permit instead of a prior approve.
    function stakeWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Moves `amount` of free stake to unbonding (adds to any pending unbonding and restarts the delay).
    function requestUnbond(uint256 amount) external;

    /// @notice Pays out unbonding stake once `unlockBlock` is reached.
    function withdraw() external;

    /// @notice Market only: locks `amount` of the supplier's free stake as collateral.
    function lockCollateral(address supplier, uint256 amount) external;

    /// @notice Market only: returns `amount` of locked collateral to free stake.
    function unlockCollateral(address supplier, uint256 amount) external;

    /// @notice Market only: unlocks `release` of collateral and takes up to `amount` of stake, sent to the market.
    /// @return slashed tokens actually taken (capped by the stake left)
    function slash(address supplier, uint256 amount, uint256 release) external returns (uint256 slashed);

    function token() external view returns (address);
    function market() external view returns (address);
    function unbondingBlocks() external view returns (uint256);
    function isRegistered(address supplier) external view returns (bool);
    function supplier(address supplier) external view returns (Supplier memory);
    function stakeOf(address supplier) external view returns (Stake memory);
    /// @notice Stake the market can still lock.
    function freeStake(address supplier) external view returns (uint256);
    /// @notice Sum of all stakes: equals the staking contract's token balance.
    function totalStaked() external view returns (uint256);
}
