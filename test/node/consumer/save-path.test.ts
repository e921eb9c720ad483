import { expect } from 'chai'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileNameProblem, safeFileName, saveTarget } from '../../../node/consumer/save-path.ts'

describe('consumer/save-path', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'bitdust-save-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('never lets a name from a manifest leave the folder it is saved in', async () => {
    for (const evil of ['../../.bashrc', '/etc/passwd', '..\\..\\x', 'a/../../b']) {
      const target = await saveTarget({ dir }, evil)
      expect(target.startsWith(dir + '/'), `${evil} -> ${target}`).to.equal(true)
      expect(target.slice(dir.length + 1)).not.to.include('/')
    }
    expect(safeFileName('..')).to.equal('file')
    expect(safeFileName('  ')).to.equal('file')
    expect(safeFileName('a\u0000b\u001b[31mc')).to.equal('a_b_[31mc')
    expect(safeFileName('Grüße file.bin')).to.equal('Grüße file.bin')
  })

  it('cuts a name too long for a file system on a character boundary, keeping its extension', () => {
    const s = safeFileName(`${'ü'.repeat(300)}.tar.gz`)
    expect(Buffer.byteLength(s)).to.be.at.most(240)
    expect(s.endsWith('ü.gz')).to.equal(true)
  })

  it('saves into a folder given as the path, never over a file there, and over a file named as the path', async () => {
    const sub = join(dir, 'into')
    await mkdir(sub)
    expect(await saveTarget({ path: sub }, 'report.pdf')).to.equal(join(sub, 'report.pdf'))
    await writeFile(join(sub, 'report.pdf'), 'x')
    expect(await saveTarget({ path: sub }, 'report.pdf')).to.equal(join(sub, 'report (1).pdf'))
    expect(await saveTarget({ path: join(sub, 'report.pdf') }, 'other')).to.equal(join(sub, 'report.pdf'))
  })

  it('says, before any fetch, when the folder is missing, not a folder, or not writable', async () => {
    const missing = await saveTarget({ path: join(dir, 'nope', 'x.bin') }, 'x').then(() => undefined, (e: Error) => e)
    expect(missing?.message).to.match(/the folder .*nope does not exist/)
    await writeFile(join(dir, 'plain'), 'x')
    expect((await saveTarget({ path: join(dir, 'plain', 'x') }, 'x').then(() => undefined, (e: Error) => e))?.message).to.match(/is not a folder/)
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked')
      await mkdir(locked)
      await chmod(locked, 0o500)
      expect((await saveTarget({ dir: locked }, 'x').then(() => undefined, (e: Error) => e))?.message).to.match(/no permission to write/)
    }
  })

  it('refuses upload names that carry a folder or control characters', () => {
    expect(fileNameProblem('report.pdf')).to.equal(undefined)
    expect(fileNameProblem('Grüße file.bin')).to.equal(undefined)
    expect(fileNameProblem('a/b')).to.match(/cannot contain \//)
    expect(fileNameProblem('..')).to.match(/cannot be empty/)
    expect(fileNameProblem('a\nb')).to.match(/control characters/)
  })
})
