// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MerkleProofLib} from "../libraries/MerkleProofLib.sol";

/// @notice Test-only: exposes the production verifier so TypeScript-built proofs can be checked on chain.
contract MerkleProofHarness {
    function depthOf(uint256 segments) external pure returns (uint256) {
        return MerkleProofLib.depthOf(segments);
    }

    /// @param proof packed segment + siblings
    function verify(bytes32 root, uint256 segments, uint256 index, bytes calldata proof) external view returns (bool) {
        if (segments == 0 || index >= segments) return false;
        uint256 depth = MerkleProofLib.depthOf(segments);
        if (proof.length != MerkleProofLib.sampleLength(depth)) return false;
        return MerkleProofLib.verifyCalldata(proof, 0, root, index, depth);
    }

    function verifyMemory(bytes32 root, uint256 segments, uint256 index, bytes memory proof) external view returns (bool) {
        if (segments == 0 || index >= segments) return false;
        return MerkleProofLib.verifyMemory(proof, root, index, MerkleProofLib.depthOf(segments));
    }
}
