/**
 * Striping: the content (ciphertext) is cut into stripes of k * shardSize bytes; fragment i is
 * shard i of every stripe, so any size streams through memory bounded by a few stripes. The last
 * stripe is zero-padded; the real content size travels in the manifest.
 */
import { SEGMENT_SIZE } from '../proofs/constants.ts'
import { DEFAULT_SHARD_SIZE } from './constants.ts'
import { InvalidErasureParamsError } from './errors.ts'
import { checkErasureParams } from './ronomon.ts'

export interface StripeLayout {
  k: number
  m: number
  shardSize: number
  /** Bytes striped (the ciphertext). */
  contentSize: number
  stripes: number
  /** Bytes of every fragment: stripes * shardSize, a multiple of SEGMENT_SIZE. */
  fragmentSize: number
}

export function stripeLayout (contentSize: number, k: number, m: number, shardSize = DEFAULT_SHARD_SIZE): StripeLayout {
  checkErasureParams(k, m)
  if (!Number.isSafeInteger(shardSize) || shardSize <= 0 || shardSize % SEGMENT_SIZE !== 0 || shardSize > 64 * 1024 * 1024) {
    throw new InvalidErasureParamsError(`shard size must be a multiple of ${SEGMENT_SIZE} bytes up to 64 MiB, got ${shardSize}`)
  }
  if (!Number.isSafeInteger(contentSize) || contentSize <= 0) throw new InvalidErasureParamsError(`content size must be positive, got ${contentSize}`)
  const stripes = Math.ceil(contentSize / (k * shardSize))
  return { k, m, shardSize, contentSize, stripes, fragmentSize: stripes * shardSize }
}

/** Content bytes carried by stripe `s` (the last one is shorter; the rest of it is padding). */
export function stripeContentBytes (layout: StripeLayout, s: number): number {
  const full = layout.k * layout.shardSize
  return s === layout.stripes - 1 ? layout.contentSize - s * full : full
}
