/**
 * Batched Merkle subtree hashing: the hot loop of the data path (~4M leaves per GiB). Uses the
 * OpenSSL addon in node/native when it was built (many leaves per call, off the main thread),
 * else the same computation in JS with node's crypto. Both give identical bytes (tested).
 */
import { hash } from 'node:crypto'
import { nativeAddon } from '../util/native.ts'
import { SEGMENT_SIZE } from './constants.ts'

const HASH = 32

const native = nativeAddon

/** Which implementation hashes trees in this process. */
export const treeHashBackend: 'native' | 'js' = native != null ? 'native' : 'js'
/** Human-readable detail: the addon with SHA-NI lanes, with OpenSSL, or pure JS. */
export const treeHashDetail = native == null
  ? 'pure JS (node:crypto per hash; build node/native for ~10x)'
  : native.shaNi === true ? 'native addon, interleaved SHA-NI' : 'native addon, OpenSSL SHA-256'

/** Bytes `treeLevels` writes: levels fromLevel..height, each padded to 2^(height-L) nodes. */
export function levelsBytes (height: number, fromLevel: number): number {
  let total = 0
  for (let l = fromLevel; l <= height; l++) total += (2 ** (height - l)) * HASH
  return total
}

/**
 * Hashes `segments` 256-byte segments of `data` into a subtree of `height` (missing leaves are
 * 32 zero bytes) and returns levels fromLevel..height concatenated, lowest first.
 */
export async function treeLevels (data: Uint8Array, segments: number, height: number, fromLevel: number, options: { js?: boolean } = {}): Promise<Buffer> {
  check(data, segments, height, fromLevel)
  const out = Buffer.allocUnsafe(levelsBytes(height, fromLevel))
  if (native != null && options.js !== true) {
    await native.treeLevels(asBuffer(data), segments, height, fromLevel, out, true)
  } else {
    treeLevelsJs(data, segments, height, fromLevel, out)
  }
  return out
}

export function treeLevelsSync (data: Uint8Array, segments: number, height: number, fromLevel: number, options: { js?: boolean } = {}): Buffer {
  check(data, segments, height, fromLevel)
  const out = Buffer.allocUnsafe(levelsBytes(height, fromLevel))
  if (native != null && options.js !== true) native.treeLevels(asBuffer(data), segments, height, fromLevel, out, false)
  else treeLevelsJs(data, segments, height, fromLevel, out)
  return out
}

function treeLevelsJs (data: Uint8Array, segments: number, height: number, fromLevel: number, out: Buffer): void {
  let width = 2 ** height
  let level = Buffer.alloc(width * HASH)
  for (let i = 0; i < segments; i++) {
    level.set(hash('sha256', data.subarray(i * SEGMENT_SIZE, (i + 1) * SEGMENT_SIZE), 'buffer'), i * HASH)
  }
  let o = 0
  if (fromLevel === 0) { level.copy(out, o); o += level.length }
  for (let l = 1; l <= height; l++) {
    width /= 2
    const above = Buffer.allocUnsafe(width * HASH)
    for (let i = 0; i < width; i++) {
      above.set(hash('sha256', level.subarray(2 * i * HASH, (2 * i + 2) * HASH), 'buffer'), i * HASH)
    }
    level = above
    if (l >= fromLevel) { level.copy(out, o); o += level.length }
  }
}

function check (data: Uint8Array, segments: number, height: number, fromLevel: number): void {
  if (!Number.isInteger(height) || height < 0 || height > 24 || !Number.isInteger(fromLevel) || fromLevel < 0 || fromLevel > height) {
    throw new RangeError(`treeLevels: bad height ${height} or fromLevel ${fromLevel}`)
  }
  if (!Number.isInteger(segments) || segments < 1 || segments > 2 ** height || data.length < segments * SEGMENT_SIZE) {
    throw new RangeError(`treeLevels: ${segments} segments do not fit height ${height} or ${data.length} bytes`)
  }
}

function asBuffer (u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength)
}
