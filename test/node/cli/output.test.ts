import { expect } from 'chai'
import { createOutput, progressLine, tableOf } from '../../../node/cli/output.ts'
import { duration, human, tokens } from '../../../node/util/units.ts'
import type { JobView, ProgressEvent } from '../../../node/api/jobs.ts'
import { jobProgress } from '../../../node/cli/commands.ts'

describe('cli output', () => {
  it('formats token amounts exactly, without floats', () => {
    expect(tokens(0n)).to.equal('0 DUST')
    expect(tokens(10n ** 18n)).to.equal('1 DUST')
    expect(tokens(1234500000000000000n)).to.equal('1.2345 DUST')
    expect(tokens('1')).to.equal('0.000000000000000001 DUST')
    expect(tokens(-(10n ** 17n))).to.equal('-0.1 DUST')
  })

  it('formats sizes and progress bars', () => {
    expect(human(512)).to.equal('512 B')
    expect(human(1536)).to.equal('1.5 KiB')
    expect(progressLine({ stage: 'transfer', done: 50, total: 100 }, 10)).to.match(/^transfer\s+█████░░░░░\s+50%/)
    expect(progressLine({ stage: 'deal', message: 'waiting for slots' })).to.equal('deal: waiting for slots')
  })

  it('says spans of time in two units at most', () => {
    expect(duration(-5)).to.equal('0 s')
    expect(duration(44_600)).to.equal('45 s')
    expect(duration(29 * 60_000 + 59_000)).to.equal('29 min')
    expect(duration(2 * 3_600_000)).to.equal('2 h')
    expect(duration(3 * 3_600_000 + 5 * 60_000)).to.equal('3 h 5 min')
    expect(duration(7 * 86_400_000 - 3_600_000)).to.equal('6 d 23 h')
    expect(duration(100 * 86_400_000)).to.equal('100 d')
  })

  it('says where a job is for `bitdust jobs`: stage and share done, or why it ended', () => {
    const job = (over: Partial<JobView>): JobView => ({ id: 'j', kind: 'upload', state: 'running', progress: undefined, started: 0, ...over })
    expect(jobProgress(job({ progress: { stage: 'transfer', done: 3, total: 8 } }))).to.equal('transfer 37 %')
    expect(jobProgress(job({ progress: { stage: 'fill', message: 'all 6 slots filled' } }))).to.equal('fill: all 6 slots filled')
    expect(jobProgress(job({ state: 'cancelled', error: { name: 'JobCancelledError', message: 'cancelled by the user' } }))).to.equal('cancelled by the user')
    expect(jobProgress(job({}))).to.equal('')
    expect(jobProgress(job({ state: 'done', progress: { stage: 'manifest', message: 'storing' }, result: { id: '0xab', name: 'a.bin', size: 1 } }))).to.equal('stored a.bin as 0xab')
    expect(jobProgress(job({ state: 'done', result: { path: '/tmp/a.bin', size: 1 } }))).to.equal('saved /tmp/a.bin')
  })

  it('lays out tables', () => {
    expect(tableOf([], ['a'])).to.equal('(none)')
    expect(tableOf([{ id: 'x', name: 'long name' }], ['id', 'name'])).to.equal('ID  NAME\nx   long name')
  })
  describe('progress', () => {
    const job = (progress: ProgressEvent): JobView => ({ id: 'j', kind: 'upload', state: 'running', progress, started: 0 })
    const sink = (isTTY: boolean): { writes: string[], stream: { isTTY: boolean, write: (s: string) => boolean } } => {
      const writes: string[] = []
      return { writes, stream: { isTTY, write: (s: string) => { writes.push(s); return true } } }
    }
    /** A transfer reported 1000 times, between two stages without totals. */
    const run = (isTTY: boolean): string[] => {
      const { writes, stream } = sink(isTTY)
      const out = createOutput(false, stream)
      out.progress(job({ stage: 'suppliers', message: 'choosing suppliers' }))
      for (let i = 0; i <= 1000; i++) out.progress(job({ stage: 'transfer', done: i * 1024, total: 1000 * 1024 }))
      out.progress(job({ stage: 'fill', message: 'waiting for slots' }))
      out.progress(job({ stage: 'fill', message: 'waiting for slots' }))
      out.done()
      return writes
    }

    it('without a terminal, logs each stage once and a transfer at every 10 %', () => {
      const lines = run(false)
      expect(lines.every((l) => l.endsWith('\n') && !l.includes('\r'))).to.equal(true)
      expect(lines[0]).to.equal('suppliers: choosing suppliers\n')
      const transfer = lines.filter((l) => l.startsWith('transfer'))
      expect(transfer.map((l) => l.match(/(\d+)%/)?.[1])).to.deep.equal(['0', '10', '20', '30', '40', '50', '60', '70', '80', '90', '100'])
      expect(lines.at(-1)).to.equal('fill: waiting for slots\n')
      expect(lines).to.have.length(13)
    })

    it('on a terminal, redraws one line in place and ends it', () => {
      const lines = run(true)
      expect(lines).to.have.length(1 + 1001 + 2 + 1) // every update, then the closing newline
      expect(lines.slice(0, -1).every((l) => l.startsWith('\r\x1b[2K'))).to.equal(true)
      expect(lines.at(-1)).to.equal('\n')
    })

    it('prints nothing but the result with --json', () => {
      const { writes, stream } = sink(false)
      const out = createOutput(true, stream)
      out.progress(job({ stage: 'transfer', done: 1, total: 2 }))
      out.done()
      expect(writes).to.deep.equal([])
    })
  })
})
