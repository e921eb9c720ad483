/**
 * File helpers shared by the data path: whole-file writes that are never seen half-done, and
 * chunked reads that stop on an abort. Pure node:fs, no other module's types.
 */
import { randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'

/** Writes `data` to a temp file beside `path` (mode 0600), fsyncs (unless told not to), renames. */
export async function writeFileAtomically (path: string, data: Uint8Array | string, durable = true): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.part`
  try {
    const fh = await open(tmp, 'wx', 0o600)
    try {
      await fh.writeFile(data)
      if (durable) await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}

/** The file's bytes in `chunk`-byte pieces (each a fresh buffer the caller may keep). */
export async function * readChunks (path: string, chunk: number, options: { signal?: AbortSignal } = {}): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r')
  try {
    for (;;) {
      options.signal?.throwIfAborted()
      const buf = Buffer.allocUnsafe(chunk)
      const { bytesRead } = await fh.read(buf, 0, chunk, null)
      if (bytesRead === 0) return
      yield buf.subarray(0, bytesRead)
    }
  } finally {
    await fh.close()
  }
}
