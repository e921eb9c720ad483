/** Reed-Solomon bounds of @ronomon/reed-solomon (its context is built for k <= 24, m <= 6). */
export const MAX_K = 24
export const MAX_M = 6
/** Bytes of each fragment per stripe: 2^10 segments of 256 bytes, one Merkle subtree per shard. */
export const DEFAULT_SHARD_SIZE = 256 * 1024
/** Name of the codec recorded in manifests: fragments from another codec have other parity bytes. */
export const RONOMON_CODEC = 'rs-vandermonde-ronomon-1'
