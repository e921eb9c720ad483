/**
 * A fragment's tree as kept next to it on disk: the root and levels storedFrom..depth (levels are
 * not padded: level L has ceil(segments / 2^L) nodes). A proof rehashes the one 2^storedFrom-
 * segment block that holds the challenged segment and takes the upper siblings from the file.
 *
 * File format v1: magic "BDMT" | version u8 = 1 | storedFrom u8 | reserved u16 = 0 |
 * segments u64 BE | root (32) | levels storedFrom..depth, lowest first.
 */
import { SEGMENT_SIZE } from './constants.ts'
import { type MerkleProof, SegmentOutOfRangeError, treeDepth, verifyProof, zeroSubtree } from './merkle.ts'
import { treeLevels, treeLevelsSync } from './tree-hash.ts'

export const TREE_FILE_VERSION = 1
const MAGIC = Buffer.from('BDMT')
const HEADER = 4 + 1 + 1 + 2 + 8 + 32
const HASH = 32
/** 2^30 segments = 256 GiB per fragment: a bound for hostile headers. */
const MAX_SEGMENTS = 2 ** 30

export interface StoredTree {
  segments: number
  storedFrom: number
  /** Levels storedFrom..depth (last one is the root level). */
  levels: Buffer[]
  root: Buffer
}

export class TreeFileError extends Error {
  override name = 'TreeFileError'
  constructor (reason: string) {
    super(`The stored Merkle tree is unreadable (${reason}). Delete the fragment and fetch or rebuild it again.`)
  }
}

/** The fragment's bytes do not match its stored tree: the fragment or its tree file is damaged. */
export class FragmentCorruptError extends Error {
  override name = 'FragmentCorruptError'
  constructor (what: string) {
    super(`${what} does not match its Merkle tree: the data on disk is damaged. Delete it and fetch or rebuild it again.`)
  }
}

export function encodeStoredTree (tree: StoredTree): Buffer {
  const header = Buffer.alloc(HEADER)
  MAGIC.copy(header, 0)
  header[4] = TREE_FILE_VERSION
  header[5] = tree.storedFrom
  header.writeBigUInt64BE(BigInt(tree.segments), 8)
  tree.root.copy(header, 16)
  return Buffer.concat([header, ...tree.levels])
}

export function decodeStoredTree (bytes: Uint8Array): StoredTree {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length < HEADER || !buf.subarray(0, 4).equals(MAGIC)) throw new TreeFileError('bad magic')
  if (buf[4] !== TREE_FILE_VERSION) throw new TreeFileError(`unknown version ${buf[4]}`)
  const storedFrom = buf[5] as number
  const segments = Number(buf.readBigUInt64BE(8))
  if (segments < 1 || segments > MAX_SEGMENTS) throw new TreeFileError(`segment count ${segments} out of range`)
  const depth = treeDepth(segments)
  if (storedFrom > depth) throw new TreeFileError('stored level above the root')
  const levels: Buffer[] = []
  let o = HEADER
  for (let l = storedFrom; l <= depth; l++) {
    const len = Math.ceil(segments / 2 ** l) * HASH
    if (o + len > buf.length) throw new TreeFileError('truncated')
    levels.push(buf.subarray(o, o + len))
    o += len
  }
  if (o !== buf.length) throw new TreeFileError('trailing bytes')
  const root = buf.subarray(16, 48)
  if (!root.equals((levels[levels.length - 1] as Buffer).subarray(0, HASH))) throw new TreeFileError('root does not match the top level')
  return { segments, storedFrom, levels, root }
}

/** Segments [first, first + count) of the block that holds segment `index`. */
export function blockOf (tree: Pick<StoredTree, 'segments' | 'storedFrom'>, index: number): { first: number, count: number } {
  const size = 2 ** tree.storedFrom
  const first = Math.floor(index / size) * size
  return { first, count: Math.min(size, tree.segments - first) }
}

/**
 * Checks a block of segments (as returned for `blockOf(index)`) against the stored node above it.
 * Throws FragmentCorruptError when it does not match.
 */
export function verifyBlock (tree: StoredTree, first: number, block: Uint8Array): void {
  const h = tree.storedFrom
  const count = block.length / SEGMENT_SIZE
  const out = treeLevelsSync(block, count, h, h)
  const stored = (tree.levels[0] as Buffer).subarray((first / 2 ** h) * HASH, (first / 2 ** h + 1) * HASH)
  if (!out.subarray(0, HASH).equals(stored)) throw new FragmentCorruptError(`Segments ${first}..${first + count - 1}`)
}

/**
 * A proof for segment `index` from the stored tree and the bytes of its block. The block is
 * checked against the tree first (a damaged fragment yields FragmentCorruptError, never a
 * proof that would fail on chain), and the proof is verified before it is returned.
 */
export function proveFromStoredTree (tree: StoredTree, index: number, block: Uint8Array): MerkleProof {
  if (!Number.isSafeInteger(index) || index < 0 || index >= tree.segments) throw new SegmentOutOfRangeError(index, tree.segments)
  const { first, count } = blockOf(tree, index)
  if (block.length !== count * SEGMENT_SIZE) throw new RangeError(`block of segment ${index} must be ${count * SEGMENT_SIZE} bytes`)
  const h = tree.storedFrom
  const local = treeLevelsSync(block, count, h, 0)
  const stored = tree.levels[0] as Buffer
  const top = local.subarray(local.length - HASH)
  if (!top.equals(stored.subarray((first / 2 ** h) * HASH, (first / 2 ** h + 1) * HASH))) {
    throw new FragmentCorruptError(`Segments ${first}..${first + count - 1}`)
  }
  const path: Uint8Array[] = []
  // Local levels 0..h-1, each padded to 2^(h-L) nodes (padding = zero subtrees, as the convention).
  let o = 0
  let i = index - first
  for (let l = 0; l < h; l++) {
    const width = 2 ** (h - l)
    const s = i ^ 1
    path.push(Buffer.from(local.subarray(o + s * HASH, o + (s + 1) * HASH)))
    o += width * HASH
    i >>= 1
  }
  const depth = treeDepth(tree.segments)
  let j = Math.floor(index / 2 ** h)
  for (let l = h; l < depth; l++) {
    const level = tree.levels[l - h] as Buffer
    const s = j ^ 1
    path.push(s * HASH < level.length ? Buffer.from(level.subarray(s * HASH, (s + 1) * HASH)) : Buffer.from(zeroSubtree(l)))
    j >>= 1
  }
  const segment = block.subarray((index - first) * SEGMENT_SIZE, (index - first + 1) * SEGMENT_SIZE)
  const proof = { index, segment, path }
  if (!verifyProof(tree.root, tree.segments * SEGMENT_SIZE, proof)) throw new FragmentCorruptError('The stored tree')
  return proof
}

/**
 * Checks whole blocks `firstBlock..` held in `data` (the last may be the fragment's short tail)
 * against the stored nodes, hashing off the main thread. Throws FragmentCorruptError.
 */
export async function verifyBlocks (tree: StoredTree, firstBlock: number, data: Uint8Array): Promise<void> {
  const h = tree.storedFrom
  const segs = data.length / SEGMENT_SIZE
  if (!Number.isInteger(segs) || segs === 0) throw new RangeError('verifyBlocks needs whole segments')
  const blocks = Math.ceil(segs / 2 ** h)
  let height = h
  while (2 ** (height - h) < blocks) height++
  const out = await treeLevels(data, segs, height, h)
  const stored = (tree.levels[0] as Buffer).subarray(firstBlock * HASH, (firstBlock + blocks) * HASH)
  if (stored.length !== blocks * HASH || !out.subarray(0, blocks * HASH).equals(stored)) {
    for (let b = 0; b < blocks; b++) {
      if (!out.subarray(b * HASH, (b + 1) * HASH).equals(stored.subarray(b * HASH, (b + 1) * HASH))) {
        const first = (firstBlock + b) * 2 ** h
        throw new FragmentCorruptError(`Segments ${first}..${Math.min(first + 2 ** h, tree.segments) - 1}`)
      }
    }
  }
}
