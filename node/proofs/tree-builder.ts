/**
 * Builds a fragment's Merkle tree while the fragment streams by, in memory bounded by the part
 * of the tree that is kept: levels STORED_FROM_LEVEL and up (a node per 16 KiB of fragment), so a
 * supplier answers a challenge by rehashing one 16 KiB block instead of the whole fragment.
 */
import { SEGMENT_SIZE } from './constants.ts'
import { hashNode, InvalidFragmentSizeError, treeDepth, zeroSubtree } from './merkle.ts'
import { treeLevels } from './tree-hash.ts'
import { encodeStoredTree, type StoredTree } from './stored-tree.ts'

/** Lowest tree level kept on disk: 2^6 segments = 16 KiB of fragment per stored node. */
export const STORED_FROM_LEVEL = 6
/** Segments hashed per native call: 2^10 = 256 KiB (one shard of the default stripe). */
export const BLOCK_HEIGHT = 10

const HASH = 32

export interface TreeBuilderOptions {
  storedFromLevel?: number
  blockHeight?: number
  /** Force the pure-JS hasher (tests compare both). */
  js?: boolean
}

export class TreeBuilder {
  private readonly storedFrom: number
  private readonly blockHeight: number
  private readonly blockBytes: number
  private readonly js: boolean
  private readonly buffer: Buffer
  private buffered = 0
  private blocks = 0
  /** levels[L] for L >= storedFrom: node pieces in order. */
  private readonly levels = new Map<number, Buffer[]>()
  /** Left node waiting for its right sibling, per level >= blockHeight. */
  private readonly pending = new Map<number, Buffer>()
  private done = false

  constructor (options: TreeBuilderOptions = {}) {
    this.storedFrom = options.storedFromLevel ?? STORED_FROM_LEVEL
    this.blockHeight = Math.max(options.blockHeight ?? BLOCK_HEIGHT, this.storedFrom)
    this.blockBytes = 2 ** this.blockHeight * SEGMENT_SIZE
    this.js = options.js === true
    this.buffer = Buffer.allocUnsafe(this.blockBytes)
  }

  /** Bytes hashed so far (whole segments and the buffered tail). */
  get size (): number {
    return this.blocks * this.blockBytes + this.buffered
  }

  /** Feeds the next bytes of the fragment. Await each call before the next. */
  async update (chunk: Uint8Array): Promise<void> {
    if (this.done) throw new Error('TreeBuilder: update after digest')
    let off = 0
    while (off < chunk.length) {
      if (this.buffered === 0 && chunk.length - off >= this.blockBytes) {
        // Aligned whole block: hash in place, no copy.
        await this.hashBlock(chunk.subarray(off, off + this.blockBytes), 2 ** this.blockHeight, this.storedFrom)
        off += this.blockBytes
        continue
      }
      const take = Math.min(this.blockBytes - this.buffered, chunk.length - off)
      this.buffer.set(chunk.subarray(off, off + take), this.buffered)
      this.buffered += take
      off += take
      if (this.buffered === this.blockBytes) {
        await this.hashBlock(this.buffer, 2 ** this.blockHeight, this.storedFrom)
        this.buffered = 0
      }
    }
  }

  /** Finishes the tree: its root and the stored levels. */
  async digest (): Promise<StoredTree> {
    if (this.done) throw new Error('TreeBuilder: digest twice')
    this.done = true
    const size = this.size
    if (size === 0 || size % SEGMENT_SIZE !== 0) throw new InvalidFragmentSizeError(size)
    const segments = size / SEGMENT_SIZE
    const depth = treeDepth(segments)
    const from = Math.min(this.storedFrom, depth)
    if (this.buffered > 0) {
      const segs = this.buffered / SEGMENT_SIZE
      // A lone partial block may be shallower than a full one; hash it only as high as needed.
      const height = this.blocks === 0 ? Math.min(this.blockHeight, depth) : this.blockHeight
      await this.hashBlock(this.buffer.subarray(0, this.buffered), segs, from, height)
      this.buffered = 0
    }
    // Close the cascade: an unpaired node meets the all-zero subtree beside it.
    for (let l = this.blockHeight; l < depth; l++) {
      const left = this.pending.get(l)
      if (left != null) {
        this.pending.delete(l)
        this.emit(l + 1, Buffer.from(hashNode(left, zeroSubtree(l))))
      }
    }
    const levels: Buffer[] = []
    for (let l = from; l <= depth; l++) {
      const level = Buffer.concat(this.levels.get(l) ?? [])
      const expected = Math.ceil(segments / 2 ** l) * HASH
      if (level.length !== expected) throw new Error(`TreeBuilder: level ${l} has ${level.length} bytes, expected ${expected}`)
      levels.push(level)
    }
    const top = levels[levels.length - 1] as Buffer
    return { segments, storedFrom: from, levels, root: top.subarray(0, HASH) }
  }

  /** Serialized tree file of the finished tree. */
  static encode (tree: StoredTree): Buffer {
    return encodeStoredTree(tree)
  }

  private async hashBlock (data: Uint8Array, segs: number, from: number, height = this.blockHeight): Promise<void> {
    const out = await treeLevels(data, segs, height, from, { js: this.js })
    let o = 0
    for (let l = from; l <= height; l++) {
      const width = 2 ** (height - l) * HASH
      const real = Math.ceil(segs / 2 ** l) * HASH
      this.push(l, out.subarray(o, o + real))
      o += width
    }
    if (segs === 2 ** this.blockHeight) this.blocks++
    const top = this.levels.get(height)
    // The block's root was pushed at level `height`; cascade it with its neighbours above.
    if (height === this.blockHeight && top != null) {
      const root = top.pop() as Buffer
      this.emit(height, root)
    }
  }

  private emit (level: number, node: Buffer): void {
    this.push(level, node)
    if (level < this.blockHeight) return
    const left = this.pending.get(level)
    if (left == null) {
      this.pending.set(level, node)
    } else {
      this.pending.delete(level)
      this.emit(level + 1, Buffer.from(hashNode(left, node)))
    }
  }

  private push (level: number, nodes: Buffer): void {
    let list = this.levels.get(level)
    if (list == null) { list = []; this.levels.set(level, list) }
    list.push(nodes)
  }
}
