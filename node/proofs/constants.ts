/**
 * The proof convention, version 1. The Solidity side (contracts/libraries/MerkleProofLib.sol)
 * mirrors every constant here; test/contracts/proof-agreement.test.ts proves they agree.
 *
 * Why 256-byte segments and SHA-256: calldata dominates an on-chain proof (a sample reveals one
 * segment plus one 32-byte sibling per level), so segments are small; SHA-256 is the fastest
 * hash in node (OpenSSL) per byte and a cheap precompile on chain.
 */
export const PROOF_VERSION = 1
/** Bytes per Merkle leaf (one challengeable segment). Fragment sizes are multiples of it. */
export const SEGMENT_SIZE = 256
/** Hash of a padding leaf: trees are padded to a power of two with zero leaves. */
export const ZERO_LEAF = new Uint8Array(32)

/**
 * The root a fragment put announces when the consumer sends fragments while it is still hashing
 * them (the deal that commits to the roots opens after the transfer). The contract refuses zero
 * roots, so it never names a real fragment.
 */
export const ROOT_LATER = `0x${'0'.repeat(64)}`
