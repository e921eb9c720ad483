import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { supportsDirectIo } from '../../../node/storage/direct-io.ts'
import { STAGE_BYTES, StagedWriter } from '../../../node/storage/staged-writer.ts'

/** Cuts `data` into pieces of uneven sizes, none aligned to anything. */
function pieces (data: Buffer): Buffer[] {
  const out: Buffer[] = []
  let at = 0
  for (let i = 0; at < data.length; i++) {
    const n = Math.min(data.length - at, 1 + ((i * 7919 + 4099) % 300_000))
    out.push(data.subarray(at, at + n))
    at += n
  }
  return out
}

describe('storage/staged-writer', function () {
  this.timeout(60_000)
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'bitdust-staged-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  async function writeAll (data: Buffer, init: Partial<Parameters<typeof StagedWriter.create>[1]> = {}): Promise<{ writer: StagedWriter, seen: Buffer, path: string }> {
    const path = join(dir, 'out.part')
    const seen: Buffer[] = []
    const writer = await StagedWriter.create(path, { direct: true, diskPath: dir, onStage: async (b) => { seen.push(Buffer.from(b)) }, ...init })
    try {
      for (const p of pieces(data)) await writer.push(p)
      await writer.end()
      await writer.sync()
    } finally {
      await writer.close()
    }
    return { writer, seen: Buffer.concat(seen), path }
  }

  it('writes every byte in order, for sizes that end mid-block and mid-stage, and shows each stage once', async () => {
    const direct = await supportsDirectIo(dir)
    for (const size of [0, 1, 4095, STAGE_BYTES, 3 * STAGE_BYTES + 12_345]) {
      const data = randomBytes(size)
      const { writer, seen, path } = await writeAll(data)
      expect(writer.direct, `O_DIRECT where ${dir} takes it`).to.equal(direct)
      expect((await stat(path)).size).to.equal(size)
      expect((await readFile(path)).equals(data)).to.equal(true)
      expect(seen.equals(data)).to.equal(true)
      await rm(path)
    }
  })

  it('a write the filesystem refuses (EINVAL) is done again buffered, and so is the rest; nothing is lost or hashed twice', async function () {
    if (!await supportsDirectIo(dir)) this.skip()
    const data = randomBytes(3 * STAGE_BYTES + 777)
    let writes = 0
    const refused: string[] = []
    const write = async (fh: FileHandle, b: Uint8Array, offset: number, length: number, position?: number): Promise<{ bytesWritten: number }> => {
      if (++writes === 2) throw Object.assign(new Error('invalid argument'), { code: 'EINVAL' })
      return await fh.write(b, offset, length, position)
    }
    const { writer, seen, path } = await writeAll(data, { write, onRefused: (_err, what) => { refused.push(what) } })
    expect(refused).to.deep.equal(['write'])
    expect(writer.direct).to.equal(false)
    expect((await readFile(path)).equals(data)).to.equal(true)
    expect(seen.equals(data)).to.equal(true)
  })

  it('a filesystem that refuses the O_DIRECT open (even after creating the file) gets the file buffered', async () => {
    const data = randomBytes(STAGE_BYTES + 4097)
    const refused: string[] = []
    const openDirect = async (path: string): Promise<FileHandle> => {
      await writeFile(path, 'left by the refused open')
      throw Object.assign(new Error('invalid argument'), { code: 'EINVAL' })
    }
    const { writer, seen, path } = await writeAll(data, { openDirect, onRefused: (_err, what) => { refused.push(what) } })
    expect(refused).to.deep.equal(['open'])
    expect(writer.direct).to.equal(false)
    expect((await readFile(path)).equals(data)).to.equal(true)
    expect(seen.equals(data)).to.equal(true)
    // Any other failure of the open is the caller's to see.
    const eacces = async (): Promise<FileHandle> => { throw Object.assign(new Error('permission denied'), { code: 'EACCES' }) }
    const err = await StagedWriter.create(join(dir, 'other.part'), { direct: true, diskPath: dir, openDirect: eacces }).then(() => undefined, (e: unknown) => e as Error)
    expect(err?.message).to.equal('permission denied')
  })

  it('flushes in the background as it writes (syncEvery), and a failed flush surfaces at sync()', async () => {
    const data = randomBytes(8 * STAGE_BYTES + 100)
    let flushes = 0
    let failWith: Error | undefined
    const openDirect = async (path: string): Promise<FileHandle> => {
      const { open } = await import('node:fs/promises')
      const fh = await open(path, 'wx', 0o600)
      const datasync = fh.datasync.bind(fh)
      fh.datasync = async () => { flushes++; if (failWith !== undefined) throw failWith; await datasync() }
      return fh
    }
    const { path } = await writeAll(data, { openDirect, syncEvery: 2 * STAGE_BYTES })
    expect((await readFile(path)).equals(data)).to.equal(true)
    // One flush per 2 MiB written, before the last one (sync() uses fsync, not these).
    expect(flushes).to.equal(4)
    await rm(path)

    flushes = 0
    failWith = Object.assign(new Error('input/output error'), { code: 'EIO' })
    const err = await writeAll(data, { openDirect, syncEvery: 2 * STAGE_BYTES }).then(() => undefined, (e: unknown) => e as Error)
    expect(flushes).to.be.greaterThan(0)
    expect(err?.message).to.equal('input/output error')
  })

  it('a full disk is a DiskFullError naming where, and other write errors pass through', async () => {
    const data = randomBytes(2 * STAGE_BYTES + 5)
    for (const [code, name] of [['ENOSPC', 'DiskFullError'], ['EIO', 'Error']] as const) {
      let writes = 0
      const write = async (fh: FileHandle, b: Uint8Array, offset: number, length: number, position?: number): Promise<{ bytesWritten: number }> => {
        if (++writes === 2) throw Object.assign(new Error(`${code} injected`), { code })
        return await fh.write(b, offset, length, position)
      }
      const err = await writeAll(data, { write, diskPath: '/the/disk' }).then(() => undefined, (e: unknown) => e as Error)
      expect(err?.name).to.equal(name)
      expect(err?.message).to.match(code === 'ENOSPC' ? /\/the\/disk is full/ : /EIO injected/)
      await rm(join(dir, 'out.part'), { force: true })
    }
    expect(await readdir(dir)).to.deep.equal([])
  })
})
