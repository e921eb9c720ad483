/**
 * Fragment data written and streamed with O_DIRECT, past the page cache.
 *
 * Why: a supplier writes a fragment once and then reads only a few segments of it per period, so
 * caching it buys nothing, and on virtualised disks buffered I/O is expensive. On the 2-core
 * VM these numbers come from, 2 GiB written buffered and then fsynced took 1.0–3.1 s of kernel CPU
 * and 1.9–4.0 s; with O_DIRECT, 0.2–0.3 s of CPU and 1.4 s (`npm run bench -- disk`).
 *
 * O_DIRECT wants the memory address, the file offset and the length aligned to the device's
 * logical block. Node's Buffers are malloc'd (16 bytes past a page boundary), so they are not;
 * a WebAssembly memory starts on a page boundary, so buffers carved from one at multiples of
 * DIRECT_ALIGN are.
 */
import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { open, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { log } from '../log.ts'

const debug = log('storage:direct-io')

/** Alignment of addresses, offsets and lengths: the largest logical block in common use. */
export const DIRECT_ALIGN = 4096
const WASM_PAGE = 64 * 1024
/** Undefined where the platform has no O_DIRECT (macOS, Windows): writes stay buffered there. */
const O_DIRECT = (constants as { O_DIRECT?: number }).O_DIRECT
/** Whether this platform has O_DIRECT at all (a filesystem may still refuse it). */
export const hasDirectIo = O_DIRECT !== undefined

export function alignUp (n: number, to = DIRECT_ALIGN): number {
  return Math.ceil(n / to) * to
}

/**
 * Reusable page-aligned buffers of one size. Each WebAssembly memory reserves a large range of
 * address space (guard regions), and V8 caps the total, so buffers are carved several per memory
 * and handed back for reuse instead of allocating a memory per fragment.
 */
export class AlignedPool {
  readonly size: number
  private readonly perMemory: number
  private readonly keep: number
  private readonly free: Buffer[] = []

  constructor (size: number, perMemory = 8, keep = 32) {
    this.size = size
    this.perMemory = perMemory
    this.keep = keep
    if (size <= 0 || size % DIRECT_ALIGN !== 0) throw new RangeError(`AlignedPool: size ${size} is not a positive multiple of ${DIRECT_ALIGN}`)
  }

  take (): Buffer {
    const b = this.free.pop()
    if (b !== undefined) return b
    const pages = Math.ceil(this.size * this.perMemory / WASM_PAGE)
    const all = Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer)
    for (let i = 1; i < this.perMemory; i++) this.free.push(all.subarray(i * this.size, (i + 1) * this.size))
    return all.subarray(0, this.size)
  }

  /** Returns a buffer taken from this pool; beyond `keep` spares it is left to the GC. */
  give (b: Buffer): void {
    if (b.length === this.size && this.free.length < this.keep) this.free.push(b)
  }
}

/** Creates `path` (it must not exist) for O_DIRECT writes. */
export async function openDirect (path: string): Promise<FileHandle> {
  if (O_DIRECT === undefined) throw new Error('O_DIRECT is not available on this platform')
  return await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_DIRECT, 0o600)
}

/** Opens `path` for O_DIRECT reads. */
export async function openDirectForRead (path: string): Promise<FileHandle> {
  if (O_DIRECT === undefined) throw new Error('O_DIRECT is not available on this platform')
  return await open(path, constants.O_RDONLY | O_DIRECT)
}

/**
 * Whether files in `dir` take O_DIRECT writes from aligned buffers: some filesystems refuse the
 * flag, some the alignment. Writes one aligned block to a probe file and removes it.
 */
export async function supportsDirectIo (dir: string): Promise<boolean> {
  if (O_DIRECT === undefined) return false
  const probe = join(dir, `.direct-io-probe.${randomBytes(4).toString('hex')}`)
  try {
    const fh = await openDirect(probe)
    try {
      const pool = new AlignedPool(DIRECT_ALIGN, 1, 0)
      const { bytesWritten } = await fh.write(pool.take().fill(0), 0, DIRECT_ALIGN, 0)
      return bytesWritten === DIRECT_ALIGN
    } finally {
      await fh.close()
    }
  } catch (err) {
    debug('no O_DIRECT in %s: %s', dir, (err as Error).message)
    return false
  } finally {
    await rm(probe, { force: true })
  }
}
