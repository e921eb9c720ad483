import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import type { Address, Hex } from 'viem'
import { FIRST_WAVE, repairWave } from '../../../node/repair/wave.ts'

const hex = (n: number): Hex => `0x${randomBytes(n).toString('hex')}`

describe('repair waves', () => {
  const slot = hex(32)
  const suppliers = Array.from({ length: 4096 }, () => hex(20) as Address)

  it('puts about FIRST_WAVE of a large network in the first wave, and each later wave about doubles who has had a turn', () => {
    const waves = suppliers.map((s) => repairWave(slot, s, suppliers.length))
    const upTo = (w: number): number => waves.filter((x) => x <= w).length
    // Binomial(4096, 4/4096): 0..12 holds with probability > 0.999.
    expect(upTo(0)).to.be.within(0, 12)
    expect(upTo(4)).to.be.within(30, 110) // ~64
    expect(upTo(8)).to.be.within(850, 1200) // ~1024
    expect(Math.max(...waves)).to.equal(Math.ceil(Math.log2(suppliers.length / FIRST_WAVE)))
  })

  it('is fixed for a supplier and a slot, and differs between slots', () => {
    const s = suppliers[0] as Address
    expect(repairWave(slot, s, 4096)).to.equal(repairWave(slot, s, 4096))
    const first = suppliers.filter((x) => repairWave(slot, x, 4096) === 0)
    const other = hex(32)
    const firstOther = suppliers.filter((x) => repairWave(other, x, 4096) === 0)
    expect(first.filter((x) => firstOther.includes(x)).length).to.be.lessThan(3)
  })

  it('lets everyone go at once in a small network, or when it knows of no supplier', () => {
    for (const s of suppliers.slice(0, 50)) {
      expect(repairWave(slot, s, 0)).to.equal(0)
      expect(repairWave(slot, s, FIRST_WAVE)).to.equal(0)
    }
    const seven = suppliers.slice(0, 200).map((s) => repairWave(slot, s, 7))
    expect(Math.max(...seven)).to.equal(1)
  })
})
