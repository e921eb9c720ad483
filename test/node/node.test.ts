import { expect } from 'chai'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DataDirInUseError, openDb } from '../../node/node.ts'

describe('node: its database', function () {
  this.timeout(30_000)
  let dir: string
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'bitdust-db-')) })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  it('a second node on the same data directory is told so, and the first keeps its data', async () => {
    const first = await openDb(dir)
    try {
      await first.put('k', 'v')
      const err = await openDb(dir, 300).then(() => undefined, (e: unknown) => e as Error)
      expect(err).to.be.instanceOf(DataDirInUseError)
      expect(err?.message).to.include(dir)
      expect(await first.get('k')).to.equal('v')
    } finally {
      await first.close()
    }
  })

  it('waits for a lock that its holder gives up (a node restarted while the old one dies)', async () => {
    const first = await openDb(dir)
    await first.put('k', 'v')
    const release = setTimeout(() => { void first.close() }, 500)
    try {
      const second = await openDb(dir, 10_000)
      expect(await second.get('k')).to.equal('v')
      await second.close()
    } finally {
      clearTimeout(release)
      await first.close()
    }
  })
})
