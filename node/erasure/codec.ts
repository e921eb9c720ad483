/**
 * Erasure codec: k data shards + m parity shards of equal size; any k of the k+m restore the rest.
 * Shards are laid out contiguously: data = shards 0..k-1 (k * shardSize bytes), parity = shards
 * k..k+m-1 (m * shardSize bytes).
 */
export interface ErasureCodec {
  /** Recorded in manifests: different codecs produce different parity bytes. */
  readonly name: string
  readonly k: number
  readonly m: number
  /** Fills `parity` from `data`. */
  encode: (data: Uint8Array, parity: Uint8Array, shardSize: number) => Promise<void>
  /**
   * Rewrites the shards listed in `targets` from at least k shards listed in `present`.
   * The bytes of other shards are left as they are.
   */
  reconstruct: (data: Uint8Array, parity: Uint8Array, shardSize: number, present: number[], targets: number[]) => Promise<void>
}
