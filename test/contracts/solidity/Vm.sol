// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @dev The few cheatcodes the Solidity tests use (no forge-std dependency).
interface Vm {
    function roll(uint256 blockNumber) external;
    function prank(address sender) external;
    function assume(bool condition) external pure;
}

Vm constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
