/**
 * Binary SHA-256 Merkle trees over fixed 256-byte segments.
 *   leaf  = sha256(segment)                      (segment = exactly SEGMENT_SIZE bytes)
 *   node  = sha256(left || right)
 *   depth = ceil(log2(segmentCount)); missing leaves up to 2^depth are 32 zero bytes.
 * A proof for segment i lists the siblings from the leaf level up; bit j of i tells whether
 * the node at level j is a right child. The verifier knows the depth from the fragment size,
 * so an inner node can never pass as a leaf.
 */
import { createHash, hash } from 'node:crypto'
import { SEGMENT_SIZE, ZERO_LEAF } from './constants.ts'

export class InvalidFragmentSizeError extends Error {
  override name = 'InvalidFragmentSizeError'
  constructor (size: number) {
    super(`A fragment must be a non-zero multiple of ${SEGMENT_SIZE} bytes, got ${size}`)
  }
}

export class SegmentOutOfRangeError extends Error {
  override name = 'SegmentOutOfRangeError'
  constructor (index: number, count: number) {
    super(`Segment ${index} does not exist: the fragment has ${count} segments`)
  }
}

export interface MerkleProof {
  /** Segment index the proof is for. */
  index: number
  /** The segment's bytes (SEGMENT_SIZE). */
  segment: Uint8Array
  /** Siblings from the leaf level up to just below the root. */
  path: Uint8Array[]
}

export function segmentCount (fragmentSize: number): number {
  if (!Number.isSafeInteger(fragmentSize) || fragmentSize <= 0 || fragmentSize % SEGMENT_SIZE !== 0) {
    throw new InvalidFragmentSizeError(fragmentSize)
  }
  return fragmentSize / SEGMENT_SIZE
}

export function treeDepth (segments: number): number {
  let depth = 0
  // 2 ** depth, not 1 << depth: the shift wraps at 2^31 and the loop would never end.
  while (2 ** depth < segments) depth++
  return depth
}

export function hashLeaf (segment: Uint8Array): Uint8Array {
  return hash('sha256', segment, 'buffer')
}

export function hashNode (left: Uint8Array, right: Uint8Array): Uint8Array {
  return createHash('sha256').update(left).update(right).digest()
}

/** Leaf hashes of a whole fragment held in memory. */
export function hashLeaves (fragment: Uint8Array): Uint8Array[] {
  const n = segmentCount(fragment.length)
  const leaves = new Array<Uint8Array>(n)
  for (let i = 0; i < n; i++) {
    leaves[i] = hashLeaf(fragment.subarray(i * SEGMENT_SIZE, (i + 1) * SEGMENT_SIZE))
  }
  return leaves
}

/**
 * All levels of the tree, leaves first, root level last (length 1). Levels are not padded in
 * memory: a missing right sibling is ZERO_LEAF at the leaf level and the hash of an all-zero
 * subtree above it.
 */
export function buildLevels (leaves: Uint8Array[]): Uint8Array[][] {
  if (leaves.length === 0) throw new InvalidFragmentSizeError(0)
  const depth = treeDepth(leaves.length)
  const levels: Uint8Array[][] = [leaves]
  let zero: Uint8Array = ZERO_LEAF
  for (let d = 0; d < depth; d++) {
    const below = levels[d] as Uint8Array[]
    const above = new Array<Uint8Array>(Math.ceil(below.length / 2))
    for (let i = 0; i < above.length; i++) {
      above[i] = hashNode(below[2 * i] as Uint8Array, below[2 * i + 1] ?? zero)
    }
    levels.push(above)
    zero = hashNode(zero, zero)
  }
  return levels
}

/** Hash of an all-zero-leaf subtree of the given height (0 = a zero leaf). */
export function zeroSubtree (height: number): Uint8Array {
  let z: Uint8Array = ZERO_LEAF
  for (let i = 0; i < height; i++) z = hashNode(z, z)
  return z
}

export function rootOf (levels: Uint8Array[][]): Uint8Array {
  const top = levels[levels.length - 1]
  if (top?.length !== 1) throw new Error('malformed Merkle levels')
  return top[0] as Uint8Array
}

export function merkleRoot (fragment: Uint8Array): Uint8Array {
  return rootOf(buildLevels(hashLeaves(fragment)))
}

/** Sibling path for segment `index` from a tree's levels. */
export function proofPath (levels: Uint8Array[][], index: number): Uint8Array[] {
  const leaves = levels[0] as Uint8Array[]
  if (!Number.isSafeInteger(index) || index < 0 || index >= leaves.length) {
    throw new SegmentOutOfRangeError(index, leaves.length)
  }
  const path: Uint8Array[] = []
  let zero: Uint8Array = ZERO_LEAF
  let i = index
  for (let d = 0; d < levels.length - 1; d++) {
    const level = levels[d] as Uint8Array[]
    path.push(level[i ^ 1] ?? zero)
    zero = hashNode(zero, zero)
    i >>= 1
  }
  return path
}

export function createProof (fragment: Uint8Array, levels: Uint8Array[][], index: number): MerkleProof {
  const path = proofPath(levels, index)
  const segment = fragment.subarray(index * SEGMENT_SIZE, (index + 1) * SEGMENT_SIZE)
  return { index, segment, path }
}

/** Recomputes the root from a segment and its path; mirrors MerkleProofLib.verify. */
export function computeRoot (segment: Uint8Array, index: number, path: Uint8Array[]): Uint8Array {
  let node: Uint8Array = hashLeaf(segment)
  let i = index
  for (const sibling of path) {
    node = (i & 1) === 0 ? hashNode(node, sibling) : hashNode(sibling, node)
    i >>= 1
  }
  return node
}

export function verifyProof (root: Uint8Array, fragmentSize: number, proof: MerkleProof): boolean {
  const n = segmentCount(fragmentSize)
  if (proof.segment.length !== SEGMENT_SIZE) return false
  if (!Number.isSafeInteger(proof.index) || proof.index < 0 || proof.index >= n) return false
  if (proof.path.length !== treeDepth(n) || proof.path.some((s) => s.length !== 32)) return false
  return Buffer.from(computeRoot(proof.segment, proof.index, proof.path)).equals(Buffer.from(root))
}
