// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Counting proven periods in a per-supplier bitmap (bit p set = period p proven).
/// @notice One storage word covers 256 periods, so counting a deal's range costs one SLOAD per 256
/// periods of that deal (bounded by maxDurationPeriods), never per slot or per supplier.
library ProvenBits {
    /// @notice Number of set bits for periods in [from, to).
    function count(mapping(uint256 => uint256) storage bits, uint256 from, uint256 to) internal view returns (uint256 n) {
        if (to <= from) return 0;
        uint256 w = from >> 8;
        uint256 last = (to - 1) >> 8;
        for (; w <= last; ++w) {
            uint256 word = bits[w];
            if (word == 0) continue;
            if (w == from >> 8) word &= type(uint256).max << (from & 255);
            if (w == last) {
                uint256 top = ((to - 1) & 255) + 1; // bits kept: [0, top)
                if (top < 256) word &= (uint256(1) << top) - 1;
            }
            n += popcount(word);
        }
    }

    /// @notice Set bits in a word (SWAR).
    function popcount(uint256 x) internal pure returns (uint256) {
        unchecked {
            x = x - ((x >> 1) & 0x5555555555555555555555555555555555555555555555555555555555555555);
            x = (x & 0x3333333333333333333333333333333333333333333333333333333333333333)
                + ((x >> 2) & 0x3333333333333333333333333333333333333333333333333333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            x = (x + (x >> 8)) & 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff;
            x = (x + (x >> 16)) & 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff;
            x = (x + (x >> 32)) & 0x00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff;
            x = (x + (x >> 64)) & 0x0000000000000000ffffffffffffffff0000000000000000ffffffffffffffff;
            return (x + (x >> 128)) & 0xffffffffffffffffffffffffffffffff;
        }
    }
}
