// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ProvenBits} from "../../contracts/libraries/ProvenBits.sol";
import {MerkleProofLib} from "../../contracts/libraries/MerkleProofLib.sol";
import {MerkleProofHarness} from "../../contracts/mocks/MerkleProofHarness.sol";

/// @notice Fuzz tests of the two libraries the money paths rest on.
contract ProofLibsTest {
    mapping(uint256 => uint256) internal _bits;

    /// @dev The bitmap count equals a bit-by-bit count for any words and range.
    function testFuzz_countMatchesNaive(uint256 w0, uint256 w1, uint256 w2, uint16 from, uint16 len) public {
        _bits[0] = w0;
        _bits[1] = w1;
        _bits[2] = w2;
        uint256 f = uint256(from) % 768;
        uint256 t = f + uint256(len) % (768 - f + 1);
        uint256 naive;
        for (uint256 p = f; p < t; ++p) {
            if (_bits[p >> 8] & (1 << (p & 255)) != 0) naive++;
        }
        require(ProvenBits.count(_bits, f, t) == naive, "count");
    }

    function testFuzz_popcount(uint256 x) public pure {
        uint256 n;
        for (uint256 y = x; y != 0; y >>= 1) n += y & 1;
        require(ProvenBits.popcount(x) == n, "popcount");
    }

    /// @dev Two-segment trees: the right proof verifies, any flipped byte or wrong index does not.
    function testFuzz_twoSegmentProof(bytes32 a, bytes32 b, uint8 flip, bool right) public {
        MerkleProofHarness h = new MerkleProofHarness();
        bytes memory s0 = abi.encodePacked(a, a, a, a, a, a, a, a);
        bytes memory s1 = abi.encodePacked(b, b, b, b, b, b, b, b);
        bytes32 root = sha256(abi.encodePacked(sha256(s0), sha256(s1)));
        bytes memory proof = right ? abi.encodePacked(s1, sha256(s0)) : abi.encodePacked(s0, sha256(s1));
        uint256 index = right ? 1 : 0;
        require(h.verify(root, 2, index, proof), "valid");
        if (a != b) require(!h.verify(root, 2, 1 - index, proof), "other index");
        proof[uint256(flip) % proof.length] ^= 0x01;
        require(!h.verify(root, 2, index, proof), "tampered");
    }

    function testFuzz_depth(uint32 segments) public pure {
        uint256 n = uint256(segments) + 1;
        uint256 d = MerkleProofLib.depthOf(n);
        require((1 << d) >= n, "covers");
        require(d == 0 || (1 << (d - 1)) < n, "minimal");
    }
}
