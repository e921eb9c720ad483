import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeFile } from '../../../node/storage/fragment-files.ts'
import { rebuildFragment } from '../../../node/repair/rebuild.ts'

describe('repair/rebuild', function () {
  this.timeout(120_000)
  let dir: string
  before(() => { dir = mkdtempSync(join(tmpdir(), 'bitdust-rebuild-')) })
  after(() => { rmSync(dir, { recursive: true, force: true }) })

  for (const [k, m] of [[4, 2], [10, 4]] as const) {
    it(`rebuilds every fragment of a ${k}+${m} file from k others, byte for byte, without the key`, async () => {
      const input = join(dir, `in-${k}-${m}`)
      writeFileSync(input, randomBytes(3 * 1024 * 1024 + 777))
      const out = join(dir, `frags-${k}-${m}`)
      const encoded = await encodeFile(input, out, { k, m, shardSize: 64 * 1024 })
      for (let missing = 0; missing < k + m; missing++) {
        // Use the k fragments furthest from the missing one, parity included.
        const others = encoded.fragments.map((f) => f.index).filter((i) => i !== missing).reverse().slice(0, k)
        const sources = new Map(others.map((i) => [i, encoded.fragments[i]?.path as string]))
        const dest = join(dir, `rebuilt-${k}-${m}-${missing}`)
        await rebuildFragment(sources, { k, m, fragmentSize: encoded.fragmentSize, shardSize: encoded.shardSize }, missing, dest)
        expect(readFileSync(dest).equals(readFileSync(encoded.fragments[missing]?.path as string)), `fragment ${missing}`).to.equal(true)
      }
    })
  }

  it('refuses too few fragments and leaves no output', async () => {
    const dest = join(dir, 'never')
    try {
      await rebuildFragment(new Map([[0, '/nonexistent']]), { k: 2, m: 1, fragmentSize: 256, shardSize: 256 }, 1, dest)
      expect.fail('should fail')
    } catch (err) {
      expect((err as Error).name).to.equal('RebuildInputError')
    }
    expect(existsSync(dest)).to.equal(false)
  })

  it('refuses a truncated fragment and leaves no output', async () => {
    const a = join(dir, 'a'); const b = join(dir, 'b')
    writeFileSync(a, randomBytes(512)); writeFileSync(b, randomBytes(256))
    const dest = join(dir, 'never2')
    try {
      await rebuildFragment(new Map([[0, a], [1, b]]), { k: 2, m: 1, fragmentSize: 512, shardSize: 256 }, 2, dest)
      expect.fail('should fail')
    } catch (err) {
      expect((err as Error).message).to.match(/shorter/)
    }
    expect(existsSync(dest)).to.equal(false)
    expect(existsSync(`${dest}.${process.pid}.tmp`)).to.equal(false)
  })
})
