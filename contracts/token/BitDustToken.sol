// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IBitDustToken} from "../interfaces/IBitDustToken.sol";

/// @title DUST: the token suppliers stake and consumers pay with.
contract BitDustToken is ERC20, ERC20Permit, Ownable, IBitDustToken {
    uint256 private immutable _faucetAmount;

    /// @param owner_ may mint (the deployer, or a multisig on a real network)
    /// @param faucetAmount_ tokens per faucet() call; 0 disables the faucet (any non-devnet deployment)
    constructor(address owner_, uint256 faucetAmount_) ERC20("BitDust", "DUST") ERC20Permit("BitDust") Ownable(owner_) {
        _faucetAmount = faucetAmount_;
    }

    /// @inheritdoc IBitDustToken
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    /// @inheritdoc IBitDustToken
    function faucet() external {
        uint256 amount = _faucetAmount;
        if (amount == 0) revert TokenFaucetDisabled();
        _mint(msg.sender, amount);
        emit FaucetDripped(msg.sender, amount);
    }

    /// @inheritdoc IBitDustToken
    function faucetAmount() external view returns (uint256) {
        return _faucetAmount;
    }

    function nonces(address owner_) public view override(ERC20Permit, IERC20Permit) returns (uint256) {
        return super.nonces(owner_);
    }
}
