import { expect } from 'chai'
import { human, progressLine, tableOf, tokens } from '../../../node/cli/output.ts'

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

  it('lays out tables', () => {
    expect(tableOf([], ['a'])).to.equal('(none)')
    expect(tableOf([{ id: 'x', name: 'long name' }], ['id', 'name'])).to.equal('ID  NAME\nx   long name')
  })
})
