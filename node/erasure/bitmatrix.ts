/**
 * The parity of @ronomon/reed-solomon, computed by the addon's fused XOR (node/native/xor.c):
 * the same bit-matrix and the same packet layout, so the same bytes, for 0.21 CPU-s per GiB of
 * 10+4 data instead of 0.52 (0.11 instead of 0.24 for 4+2; 256 KiB shards; AVX-512 and AVX2
 * alike: a row's sources share cache sets, so loads bound it, not XORs). The codec's context
 * holds its bit-matrix after a 3-byte header (w, k, m), in the row order the addon takes: row
 * (parity j, packet a), column (data i, packet c). None of that is documented, so the first
 * stripe of every (k, m, shard size) is also encoded by the codec itself and compared; a
 * difference turns this path off for good (and is logged), leaving the codec all the work.
 */
import { log } from '../log.ts'
import { nativeAddon } from '../util/native.ts'

const debug = log('erasure')

/** The codec's cache budget: a section (w packets of every data shard, and the target) fits in it. */
const SECTION_BUDGET = 1024 * 1024
const MIN_CHUNK = 64

/**
 * The codec's packet size for a shard: shardSize / w, halved (while even and above 64) until a
 * section of all k data shards' packets and one target fits in SECTION_BUDGET. Parity depends
 * on it.
 */
export function packetSize (w: number, k: number, shardSize: number): number {
  let chunk = shardSize / w
  while (chunk > MIN_CHUNK && chunk % 2 === 0 && (1 + k * w) * chunk > SECTION_BUDGET) chunk /= 2
  return chunk
}

export type ParityEncoder = (data: Buffer, parity: Buffer, shardSize: number) => Promise<void>

/**
 * An encoder for the layout of `context` (the codec's create(k, m)), or undefined where the
 * addon is missing or the context is not what this module knows. `reference` is the codec's
 * own encode, run once per shard size to check this one.
 */
export function bitmatrixEncoder (context: unknown, reference: ParityEncoder): ParityEncoder | undefined {
  const encode = nativeAddon?.bitmatrixEncode
  if (encode === undefined || !Buffer.isBuffer(context) || context.length < 3) return undefined
  const [w = 0, k = 0, m = 0] = context
  // k = 1 is replication, which the codec does by copying rather than through its matrix.
  if (k < 2 || ![2, 4, 8].includes(w) || context.length !== 3 + k * w * m * w) return undefined
  const rows = Buffer.from(context.subarray(3))
  const checked = new Map<number, Promise<boolean>>()
  let broken = false

  const fast = async (data: Buffer, parity: Buffer, shardSize: number): Promise<void> => {
    await encode(data, parity, shardSize, k, m, w, packetSize(w, k, shardSize), rows, true)
  }
  const check = async (data: Buffer, parity: Buffer, shardSize: number): Promise<boolean> => {
    const theirs = Buffer.allocUnsafe(parity.length)
    await Promise.all([fast(data, parity, shardSize), reference(data, theirs, shardSize)])
    const same = theirs.equals(parity)
    if (!same) {
      debug('fused XOR parity differs from the codec\'s for %d+%d, shard %d: using the codec', k, m, shardSize)
      theirs.copy(parity)
    }
    return same
  }

  return async (data, parity, shardSize) => {
    if (broken || shardSize % (w * packetSize(w, k, shardSize)) !== 0) { await reference(data, parity, shardSize); return }
    let ok = checked.get(shardSize)
    if (ok === undefined) {
      ok = check(data, parity, shardSize)
      checked.set(shardSize, ok)
      if (!await ok) broken = true
      return
    }
    if (!await ok) { await reference(data, parity, shardSize); return }
    await fast(data, parity, shardSize)
  }
}
