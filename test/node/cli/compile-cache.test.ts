import { expect } from 'chai'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const BIN = join(import.meta.dirname, '..', '..', '..', 'node', 'cli', 'bin.ts')

describe('cli startup', function () {
  this.timeout(60_000)

  it('keeps the code node compiled, so the next start (eight at once for a devnet) parses less', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bitdust-ccache-'))
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: dir }
      delete env.NODE_COMPILE_CACHE
      delete env.NODE_DISABLE_COMPILE_CACHE
      await new Promise<void>((resolve, reject) => {
        execFile(process.execPath, [BIN, '--help'], { env, timeout: 30_000 }, (err) => { if (err !== null) reject(err); else resolve() })
      })
      const [version] = await readdir(join(dir, 'node-compile-cache'))
      expect(version).to.be.a('string')
      expect((await readdir(join(dir, 'node-compile-cache', version as string))).length).to.be.greaterThan(10)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
