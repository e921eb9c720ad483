/**
 * Builds fragments, Merkle trees and packed proofs exactly as the node does: the tree is
 * node/proofs/merkle.ts and the packing and challenge derivation node/proofs/challenge.ts
 * (never re-implemented here).
 */
import { createCipheriv, createHash } from 'node:crypto'
import { SEGMENT_SIZE } from '../../../node/proofs/constants.ts'
import { buildLevels, createProof, hashLeaves, rootOf } from '../../../node/proofs/merkle.ts'
import { packProofs, toHex } from '../../../node/proofs/challenge.ts'

export interface Fragment {
  data: Uint8Array
  levels: Uint8Array[][]
  root: `0x${string}`
  segments: number
}

/** Deterministic pseudo-random bytes (AES-256-CTR keystream keyed by the label): reproducible, nonzero-looking calldata. */
export function pseudoRandom (size: number, label: string): Uint8Array {
  const key = createHash('sha256').update(label).digest()
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  return new Uint8Array(cipher.update(Buffer.alloc(size)))
}

export function makeFragment (size: number, label: string): Fragment {
  const data = pseudoRandom(size, label)
  const levels = buildLevels(hashLeaves(data))
  return { data, levels, root: toHex(rootOf(levels)), segments: size / SEGMENT_SIZE }
}

/** The packed proof (segment || siblings) of one segment. */
export function packedProof (fragment: Fragment, segment: number): Uint8Array {
  return packProofs([createProof(fragment.data, fragment.levels, segment)])
}

/** Packed proofs of several (fragment, segment) samples, in order. */
export function packedSamples (samples: Array<{ fragment: Fragment, segment: number }>): Uint8Array {
  return packProofs(samples.map(({ fragment, segment }) => createProof(fragment.data, fragment.levels, segment)))
}
