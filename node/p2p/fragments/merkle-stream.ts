/**
 * The proof convention's Merkle root computed over a stream, so neither side ever holds a whole
 * fragment in memory: leaves are hashed as bytes arrive, a partial segment is carried over.
 */
import { SEGMENT_SIZE } from '../../proofs/constants.ts'
import { buildLevels, hashLeaf, rootOf } from '../../proofs/merkle.ts'

export class MerkleStream {
  private readonly leaves: Uint8Array[] = []
  private readonly carry = new Uint8Array(SEGMENT_SIZE)
  private carried = 0
  bytes = 0

  update (chunk: Uint8Array): void {
    this.bytes += chunk.byteLength
    let off = 0
    if (this.carried > 0) {
      const k = Math.min(SEGMENT_SIZE - this.carried, chunk.byteLength)
      this.carry.set(chunk.subarray(0, k), this.carried)
      this.carried += k
      off = k
      if (this.carried < SEGMENT_SIZE) return
      this.leaves.push(hashLeaf(this.carry))
      this.carried = 0
    }
    while (chunk.byteLength - off >= SEGMENT_SIZE) {
      this.leaves.push(hashLeaf(chunk.subarray(off, off + SEGMENT_SIZE)))
      off += SEGMENT_SIZE
    }
    if (off < chunk.byteLength) {
      this.carry.set(chunk.subarray(off), 0)
      this.carried = chunk.byteLength - off
    }
  }

  /** All tree levels; undefined if the byte count is not a non-zero multiple of the segment size. */
  levels (): Uint8Array[][] | undefined {
    if (this.carried !== 0 || this.leaves.length === 0) return undefined
    return buildLevels(this.leaves)
  }

  root (): Uint8Array | undefined {
    const levels = this.levels()
    return levels == null ? undefined : rootOf(levels)
  }
}

export const toHex = (b: Uint8Array): string => '0x' + Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
export const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.startsWith('0x') ? h.slice(2) : h, 'hex'))
