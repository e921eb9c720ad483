/**
 * Rebuilds one fragment from any k others, one stripe at a time: fragment i holds shard i of
 * every stripe, so stripe s of the missing fragment is reconstructed from stripe s of k others.
 * The codec (Cauchy Reed-Solomon over bit-matrices) splits each shard into packets, so the shard
 * size matters: it is fixed by the fragment format (DEFAULT_SHARD_SIZE for format 1), which lets
 * any supplier repair without the manifest, the key or the plaintext. Memory: (k + m) shards.
 */
import { open, rename, rm } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { ronomonCodec } from '../erasure/ronomon.ts'
import type { ErasureCodec } from '../erasure/codec.ts'


export class RebuildInputError extends Error {
  override name = 'RebuildInputError'
}

export interface RebuildShape { k: number, m: number, fragmentSize: number, shardSize: number }

export async function rebuildFragment (fragments: Map<number, string>, shape: RebuildShape, missing: number, dest: string, codec: ErasureCodec = ronomonCodec(shape.k, shape.m)): Promise<void> {
  const { k, m, fragmentSize, shardSize } = shape
  if (shardSize <= 0 || fragmentSize % shardSize !== 0) throw new RebuildInputError(`a ${fragmentSize}-byte fragment is not made of ${shardSize}-byte shards`)
  const present = [...fragments.keys()].filter((i) => i !== missing).sort((a, b) => a - b).slice(0, k)
  if (present.length < k) throw new RebuildInputError(`rebuilding needs ${k} fragments, got ${present.length}`)
  if (missing < 0 || missing >= k + m) throw new RebuildInputError(`fragment ${missing} is not one of the ${k + m}`)
  const handles = new Map<number, FileHandle>()
  const tmp = `${dest}.${process.pid}.tmp`
  const out = await open(tmp, 'w')
  try {
    for (const i of present) handles.set(i, await open(fragments.get(i) as string, 'r'))
    const size = shardSize
    for (let offset = 0; offset < fragmentSize; offset += size) {
      const data = Buffer.alloc(k * size)
      const parity = Buffer.alloc(m * size)
      for (const i of present) {
        const target = i < k ? data.subarray(i * size, (i + 1) * size) : parity.subarray((i - k) * size, (i - k + 1) * size)
        const { bytesRead } = await (handles.get(i) as FileHandle).read(target, 0, size, offset)
        if (bytesRead !== size) throw new RebuildInputError(`fragment ${i} is shorter than ${fragmentSize} bytes`)
      }
      await codec.reconstruct(data, parity, size, present, [missing])
      const shard = missing < k ? data.subarray(missing * size, (missing + 1) * size) : parity.subarray((missing - k) * size, (missing - k + 1) * size)
      await out.write(shard, 0, size, offset)
    }
    await out.sync()
    await out.close()
    await rename(tmp, dest)
  } catch (err) {
    await out.close().catch(() => {})
    await rm(tmp, { force: true })
    throw err
  } finally {
    for (const h of handles.values()) await h.close().catch(() => {})
  }
}
