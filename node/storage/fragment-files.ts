/**
 * Fragments as files: a sink that writes `<dir>/<index>.frag` and its tree `<index>.tree`
 * atomically (temp file, optional fsync, rename), and a source that reads one back.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { AbortOptions } from '@libp2p/interface'
import { encodeStoredTree } from '../proofs/stored-tree.ts'
import { FRAGMENT_SUFFIX, TREE_SUFFIX } from './constants.ts'
import { DiskFullError } from './errors.ts'
import { encodeFileTo, type EncodeOptions, type EncodeResult, type FragmentSink } from './encode.ts'
import type { FragmentSource } from './decode.ts'
import { readChunks, writeFileAtomically } from '../util/files.ts'

export { writeFileAtomically }

export interface FileSinkOptions {
  /** fsync before rename (default true): a crash never leaves a visible partial fragment. */
  durable?: boolean
  /** Replaces FileHandle.write for fragment data: tests inject ENOSPC. */
  write?: WriteFn
}

/** FileHandle.write's shape; `position` undefined means at the file's current offset. */
export type WriteFn = (fh: FileHandle, data: Uint8Array, offset: number, length: number, position?: number) => Promise<{ bytesWritten: number }>
/** FileHandle.read's shape, always at a position. */
export type ReadFn = (fh: FileHandle, buffer: Uint8Array, offset: number, length: number, position: number) => Promise<{ bytesRead: number }>

export function isDiskFull (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

export async function fileSink (path: string, treePath: string, options: FileSinkOptions = {}): Promise<FragmentSink> {
  const durable = options.durable ?? true
  const writeFn: WriteFn = options.write ?? (async (h, data, offset, length) => h.write(data, offset, length))
  const tmp = `${path}.${randomBytes(4).toString('hex')}.part`
  const fh: FileHandle = await open(tmp, 'wx', 0o600)
  let closed = false
  return {
    async write (bytes) {
      let o = 0
      try {
        while (o < bytes.length) o += (await writeFn(fh, bytes, o, bytes.length - o)).bytesWritten
      } catch (err) {
        if (isDiskFull(err)) throw new DiskFullError(path)
        throw err
      }
    },
    async close (tree) {
      try {
        if (durable) await fh.sync()
        closed = true
        await fh.close()
        // The tree first: a visible fragment always has its tree beside it.
        await writeFileAtomically(treePath, encodeStoredTree(tree), durable)
        await rename(tmp, path)
      } catch (err) {
        if (isDiskFull(err)) throw new DiskFullError(path)
        throw err
      }
    },
    async abort () {
      if (!closed) { closed = true; await fh.close().catch(() => {}) }
      await rm(tmp, { force: true })
    },
  }
}

export function fragmentPath (dir: string, index: number): string {
  return join(dir, `${index}${FRAGMENT_SUFFIX}`)
}

export function treePath (dir: string, index: number): string {
  return join(dir, `${index}${TREE_SUFFIX}`)
}

/** Encodes a file into `<outDir>/<i>.frag` + `<i>.tree` for i in 0..k+m-1. */
export async function encodeFile (inputPath: string, outDir: string, options: EncodeOptions & FileSinkOptions = {}): Promise<EncodeResult> {
  await mkdir(outDir, { recursive: true })
  const result = await encodeFileTo(inputPath, async (i) => fileSink(fragmentPath(outDir, i), treePath(outDir, i), options), options)
  for (const f of result.fragments) {
    f.path = fragmentPath(outDir, f.index)
    f.treePath = treePath(outDir, f.index)
  }
  return result
}

/** A fragment file as a decode source (re-openable, read in `chunk`-byte pieces). */
export function fileSource (index: number, path: string, chunk = 256 * 1024): FragmentSource {
  return { index, open: (options: AbortOptions = {}) => readChunks(path, chunk, options) }
}

/** Sources for the fragments of an encodeFile output directory. */
export function directorySources (dir: string, indices: number[]): FragmentSource[] {
  return indices.map((i) => fileSource(i, fragmentPath(dir, i)))
}

