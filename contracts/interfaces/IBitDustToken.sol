// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";

/// @title BitDust token (DUST): ERC20 with EIP-2612 permit, 18 decimals.
/// @notice The owner mints; an optional open faucet (enabled only by the devnet deploy, amount > 0)
/// lets any test account fund itself.
interface IBitDustToken is IERC20, IERC20Permit {
    /// @notice The faucet was called while disabled (faucetAmount == 0).
    error TokenFaucetDisabled();

    /// @notice Emitted when the faucet paid `amount` to `account`.
    event FaucetDripped(address indexed account, uint256 amount);

    /// @notice Mints `amount` to `to`. Only the owner.
    function mint(address to, uint256 amount) external;

    /// @notice Mints `faucetAmount()` to the caller. Reverts with TokenFaucetDisabled when the amount is 0.
    function faucet() external;

    /// @notice Tokens the faucet pays per call (0 = disabled). Fixed at deployment.
    function faucetAmount() external view returns (uint256);
}
