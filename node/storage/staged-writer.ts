/**
 * A new file written from a stream of pieces through two reused stage buffers: one fills while
 * the other is written (and handed to `onStage`, which the fragment store uses to hash it), so
 * the disk works while the producer goes on, every write is a whole stage, and no Buffer is
 * allocated per piece (an allocation per piece cost full GCs, util/gc.ts).
 *
 * With O_DIRECT the stages are page-aligned, the last write is padded to a whole block and the
 * file is cut back to its size at the end. A filesystem that refuses O_DIRECT (EINVAL, on the
 * open or on a write) gets the rest of the file buffered; nothing is lost either way.
 */
import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { AlignedPool, alignUp, hasDirectIo, openDirect } from './direct-io.ts'
import { DiskFullError } from './errors.ts'
import { isDiskFull, type WriteFn } from './fragment-files.ts'

/** Bytes per stage, and so per write: a multiple of the tree's 256 KiB block. */
export const STAGE_BYTES = 1024 * 1024
/** Aligned buffers for O_DIRECT writes and reads, shared by every writer and store of the process. */
export const stagePool = new AlignedPool(STAGE_BYTES)

export interface StagedWriterInit {
  /** Try O_DIRECT (falls back to buffered I/O where it is refused). */
  direct: boolean
  /** Replaces FileHandle.write: tests inject ENOSPC and EINVAL. */
  write?: WriteFn
  /** Replaces the O_DIRECT open: tests inject a filesystem that refuses it. */
  openDirect?: (path: string) => Promise<FileHandle>
  /** Runs on each stage's bytes, in order, while that stage is written. */
  onStage?: (bytes: Buffer) => Promise<void>
  /** Told when O_DIRECT was refused (EINVAL), so the owner can stop asking for it. */
  onRefused?: (err: Error, what: 'open' | 'write') => void
  /** The path a DiskFullError names. */
  diskPath: string
  /**
   * Flush to the device in the background after every this many bytes (0: only in sync()). A
   * flush costs time in proportion to what it carries (~0.7 ms per MiB on the VM we measure on),
   * so a fragment flushed as it arrives is durable almost at once when its last byte is in.
   */
  syncEvery?: number
}

const defaultWrite: WriteFn = async (fh, data, offset, length, position) => fh.write(data, offset, length, position)

function refusal (err: unknown): Error {
  if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
  return err as Error
}

export class StagedWriter {
  private fh: FileHandle | undefined
  private readonly path: string
  private readonly init: StagedWriterInit
  private readonly writeFn: WriteFn
  private isDirect: boolean
  private readonly stages: Buffer[]
  private pooled = false
  private stage = 0
  private staged = 0
  private position = 0
  private padded = false
  private flushing: Promise<void> = Promise.resolve()
  /** The background flush in progress (syncEvery), and what the last one failed with. */
  private syncing: Promise<void> = Promise.resolve()
  private syncError: unknown
  private syncedTo = 0

  private constructor (path: string, fh: FileHandle, direct: boolean, init: StagedWriterInit) {
    this.path = path
    this.fh = fh
    this.init = init
    this.writeFn = init.write ?? defaultWrite
    this.isDirect = direct
    this.stages = direct ? this.alignedStages() : [Buffer.allocUnsafe(STAGE_BYTES), Buffer.allocUnsafe(STAGE_BYTES)]
  }

  private alignedStages (): Buffer[] {
    try {
      const stages = [stagePool.take(), stagePool.take()]
      this.pooled = true
      return stages
    } catch {
      // Aligned memory can run out (each WebAssembly memory reserves ~10 GiB of address space):
      // plain buffers then make the first write fail with EINVAL, which turns the file buffered.
      return [Buffer.allocUnsafe(STAGE_BYTES), Buffer.allocUnsafe(STAGE_BYTES)]
    }
  }

  /** Creates `path`, which must not exist. */
  static async create (path: string, init: StagedWriterInit): Promise<StagedWriter> {
    if (init.direct && hasDirectIo) {
      try {
        return new StagedWriter(path, await (init.openDirect ?? openDirect)(path), true, init)
      } catch (err) {
        const refused = refusal(err) // throws anything but EINVAL
        init.onRefused?.(refused, 'open')
        // The refused open may already have created the (randomly named) file.
        return new StagedWriter(path, await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600), false, init)
      }
    }
    return new StagedWriter(path, await open(path, 'wx', 0o600), false, init)
  }

  /** Whether the file is (still) written with O_DIRECT. */
  get direct (): boolean { return this.isDirect }

  /** Takes a piece (copied: the caller may reuse it); waits only while both stages are busy. */
  async push (piece: Uint8Array): Promise<void> {
    let o = 0
    while (o < piece.length) {
      const take = Math.min(STAGE_BYTES - this.staged, piece.length - o)
      ;(this.stages[this.stage] as Buffer).set(piece.subarray(o, o + take), this.staged)
      this.staged += take
      o += take
      if (this.staged === STAGE_BYTES) await this.startFlush()
    }
  }

  /** Writes what is still staged and cuts any block padding: the file then holds every byte. */
  async end (): Promise<void> {
    try {
      if (this.staged > 0) await this.startFlush()
      await this.flushing
    } finally {
      this.release()
    }
    if (this.padded) await this.handle().truncate(this.position)
  }

  async sync (): Promise<void> {
    try {
      await this.syncing
      if (this.syncError !== undefined) throw this.syncError
      await this.handle().sync()
    } catch (err) {
      if (isDiskFull(err)) throw new DiskFullError(this.init.diskPath)
      throw err
    }
  }

  /** Closes the file; safe to call twice and after a failure (pending writes settle first). */
  async close (): Promise<void> {
    await this.flushing.catch(() => {})
    await this.syncing
    this.release()
    const fh = this.fh
    this.fh = undefined
    await fh?.close()
  }

  private handle (): FileHandle {
    if (this.fh === undefined) throw new Error(`${this.path} is closed`)
    return this.fh
  }

  private release (): void {
    if (this.pooled) for (const b of this.stages) stagePool.give(b)
    this.pooled = false
  }

  private async startFlush (): Promise<void> {
    await this.flushing
    this.flushing = this.flush(this.stages[this.stage] as Buffer, this.staged)
    this.flushing.catch(() => {}) // surfaces at the next await of it
    this.stage ^= 1
    this.staged = 0
  }

  private async flush (buf: Buffer, length: number): Promise<void> {
    const working = this.init.onStage?.(buf.subarray(0, length))
    try {
      await this.writeStage(buf, length)
    } finally {
      await working
    }
  }

  /** Starts a flush of what was written if syncEvery bytes went in since the last one started. */
  private syncInBackground (): void {
    const every = this.init.syncEvery ?? 0
    if (every <= 0 || this.position - this.syncedTo < every || this.fh === undefined) return
    this.syncedTo = this.position
    const fh = this.fh
    // One at a time: a flush started while another runs would carry nothing more.
    this.syncing = this.syncing.then(async () => { await fh.datasync() }).catch((err: unknown) => { this.syncError ??= err })
  }

  private async writeStage (buf: Buffer, length: number): Promise<void> {
    for (;;) {
      const span = this.isDirect ? alignUp(length) : length
      if (span > length) { buf.fill(0, length, span); this.padded = true }
      try {
        let o = 0
        while (o < span) {
          const written = (await this.writeFn(this.handle(), buf, o, span - o, this.position + o)).bytesWritten
          // A short O_DIRECT write leaves an unaligned remainder; on a regular file it only
          // happens when the disk fills up.
          if (this.isDirect && written < span - o) throw new DiskFullError(this.init.diskPath)
          o += written
        }
        this.position += length
        this.syncInBackground()
        return
      } catch (err) {
        if (isDiskFull(err)) throw new DiskFullError(this.init.diskPath)
        if (!this.isDirect) throw err
        // The filesystem took the open but refuses this write: write the stage again buffered,
        // and the rest of the file too, rather than lose it.
        const refused = refusal(err) // throws anything but EINVAL
        this.init.onRefused?.(refused, 'write')
        this.isDirect = false
        await this.syncing
        await this.handle().close()
        this.fh = await open(this.path, 'r+')
      }
    }
  }
}
