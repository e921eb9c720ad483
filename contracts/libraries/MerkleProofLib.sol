// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Proof convention v1 verifier (mirrors node/proofs/merkle.ts exactly).
/// @notice leaf = sha256(256-byte segment), node = sha256(left || right), trees padded to a power of
/// two with bytes32(0) leaves, depth = ceil(log2(segments)), siblings bottom-up, bit j of the index
/// set = the node at level j is a right child. The caller knows the depth from the fragment size, so
/// an inner node can never pass as a leaf.
/// @dev A packed sample is the segment (256 bytes) followed by `depth` 32-byte siblings. Hashing uses
/// the sha256 precompile (address 2) on scratch memory; nothing is allocated.
library MerkleProofLib {
    uint256 internal constant SEGMENT_SIZE = 256;
    uint256 internal constant PROOF_VERSION = 1;

    /// @notice ceil(log2(segments)); 0 for a single segment.
    function depthOf(uint256 segments) internal pure returns (uint256 depth) {
        uint256 x = segments - 1; // segments >= 1 is checked by callers
        while (x != 0) {
            depth++;
            x >>= 1;
        }
    }

    /// @notice Bytes of one packed sample for a tree of the given depth.
    function sampleLength(uint256 depth) internal pure returns (uint256) {
        return SEGMENT_SIZE + depth * 32;
    }

    /// @notice Verifies the packed sample starting at `offset` of `proofs` (bounds checked by the caller).
    function verifyCalldata(bytes calldata proofs, uint256 offset, bytes32 root, uint256 index, uint256 depth)
        internal
        view
        returns (bool ok)
    {
        assembly ("memory-safe") {
            let start := add(proofs.offset, offset)
            let ptr := mload(0x40)
            calldatacopy(ptr, start, 256)
            if iszero(staticcall(gas(), 2, ptr, 256, 0x00, 0x20)) { revert(0, 0) }
            let node := mload(0x00)
            let sib := add(start, 256)
            for { let i := 0 } lt(i, depth) { i := add(i, 1) } {
                switch and(index, 1)
                case 0 {
                    mstore(0x20, calldataload(sib))
                }
                default {
                    mstore(0x20, node)
                    mstore(0x00, calldataload(sib))
                }
                if iszero(staticcall(gas(), 2, 0x00, 0x40, 0x00, 0x20)) { revert(0, 0) }
                node := mload(0x00)
                index := shr(1, index)
                sib := add(sib, 32)
            }
            ok := eq(node, root)
        }
    }

    /// @notice Same as verifyCalldata for a proof held in memory (tests and tools).
    function verifyMemory(bytes memory proof, bytes32 root, uint256 index, uint256 depth) internal view returns (bool ok) {
        if (proof.length != sampleLength(depth)) return false;
        assembly ("memory-safe") {
            let start := add(proof, 0x20)
            if iszero(staticcall(gas(), 2, start, 256, 0x00, 0x20)) { revert(0, 0) }
            let node := mload(0x00)
            let sib := add(start, 256)
            for { let i := 0 } lt(i, depth) { i := add(i, 1) } {
                switch and(index, 1)
                case 0 {
                    mstore(0x20, mload(sib))
                }
                default {
                    mstore(0x20, node)
                    mstore(0x00, mload(sib))
                }
                if iszero(staticcall(gas(), 2, 0x00, 0x40, 0x00, 0x20)) { revert(0, 0) }
                node := mload(0x00)
                index := shr(1, index)
                sib := add(sib, 32)
            }
            ok := eq(node, root)
        }
    }
}
