/**
 * ErasureCodec on @ronomon/reed-solomon (MIT, native, runs in the libuv pool). Chosen by
 * measurement (TOOLCHAIN.md): the fastest correct option on npm for m <= 6.
 */
import { createRequire } from 'node:module'
import { MAX_K, MAX_M, RONOMON_CODEC } from './constants.ts'
import { InvalidErasureParamsError, NotEnoughFragmentsError } from './errors.ts'
import type { ErasureCodec } from './codec.ts'
import { bitmatrixEncoder, type ParityEncoder } from './bitmatrix.ts'

interface Ronomon {
  create: (k: number, m: number) => unknown
  encode: (ctx: unknown, sources: number, targets: number, buffer: Buffer, bufferOffset: number, bufferSize: number,
    parity: Buffer, parityOffset: number, paritySize: number, cb: (err?: Error) => void) => void
}

const rs = createRequire(import.meta.url)('@ronomon/reed-solomon') as Ronomon
const contexts = new Map<string, unknown>()
/** The fused-XOR parity of each context, where the addon has it (undefined: the codec does it). */
const fastEncoders = new Map<string, ParityEncoder | undefined>()

export function checkErasureParams (k: number, m: number): void {
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new InvalidErasureParamsError(`k must be an integer from 1 to ${MAX_K}, got ${k}`)
  if (!Number.isInteger(m) || m < 1 || m > MAX_M) throw new InvalidErasureParamsError(`m must be an integer from 1 to ${MAX_M}, got ${m}`)
}

function buf (u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength)
}

export function ronomonCodec (k: number, m: number): ErasureCodec {
  checkErasureParams(k, m)
  const key = `${k}+${m}`
  let ctx = contexts.get(key)
  if (ctx == null) { ctx = rs.create(k, m); contexts.set(key, ctx) }
  const context = ctx

  /** The codec's own encode, on shards checkShards has passed. */
  function run (data: Uint8Array, parity: Uint8Array, sources: number, targets: number): Promise<void> {
    return new Promise((resolve, reject) => {
      rs.encode(context, sources, targets, buf(data), 0, data.length, buf(parity), 0, parity.length, (err) => { err != null ? reject(err) : resolve() })
    })
  }

  /** An empty or misaligned buffer kills the process inside either addon: refuse it here. */
  function checkShards (data: Uint8Array, parity: Uint8Array, shardSize: number): void {
    if (!Number.isInteger(shardSize) || shardSize <= 0 || shardSize % 8 !== 0) {
      throw new InvalidErasureParamsError(`shard size must be a positive multiple of 8, got ${shardSize}`)
    }
    if (data.length !== k * shardSize || parity.length !== m * shardSize) {
      throw new InvalidErasureParamsError(`expected ${k} data and ${m} parity shards of ${shardSize} bytes`)
    }
  }

  let parityShards = 0
  for (let i = k; i < k + m; i++) parityShards |= 1 << i
  const reference = async (data: Buffer, parity: Buffer): Promise<void> => { await run(data, parity, (1 << k) - 1, parityShards) }
  if (!fastEncoders.has(key)) fastEncoders.set(key, bitmatrixEncoder(context, reference))
  const encodeParity = fastEncoders.get(key) ?? reference

  return {
    name: RONOMON_CODEC,
    k,
    m,
    async encode (data, parity, shardSize) {
      checkShards(data, parity, shardSize)
      await encodeParity(buf(data), buf(parity), shardSize)
    },
    async reconstruct (data, parity, shardSize, present, targets) {
      if (targets.length === 0) return
      const usable = [...new Set(present)].filter((i) => Number.isInteger(i) && i >= 0 && i < k + m && !targets.includes(i))
      if (usable.length < k) throw new NotEnoughFragmentsError(usable.length, k, k + m)
      let sources = 0
      // Prefer data shards as sources: fewer matrix rows to invert.
      for (const i of usable.sort((a, b) => a - b).slice(0, k)) sources |= 1 << i
      let t = 0
      for (const i of targets) {
        if (!Number.isInteger(i) || i < 0 || i >= k + m) throw new InvalidErasureParamsError(`shard ${i} does not exist`)
        t |= 1 << i
      }
      checkShards(data, parity, shardSize)
      await run(data, parity, sources, t)
    },
  }
}
