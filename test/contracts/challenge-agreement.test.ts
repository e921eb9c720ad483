/**
 * The sample derivation in node/proofs/challenge.ts agrees with the market on the simulated chain:
 * ids, period samples (slot positions and segments), fill segments and targeted segments.
 */
import { expect } from 'chai'
import { network } from 'hardhat'
import { dealIdOf, fillSegment, periodSamples, sampleSegment, slotIdOf, toHex } from '../../node/proofs/challenge.ts'
import { TEST_CONFIG, activeDeal, deploy, gotoPeriod } from './helpers/fixture.ts'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/types'

const { ethers, networkHelpers } = await network.create()
const fixture = async () => await deploy(ethers, networkHelpers)

describe('challenge agreement (TypeScript derivation vs. Market)', function () {
  it('computes the same deal and slot ids', async function () {
    const d = await networkHelpers.loadFixture(fixture)
    const salt = toHex(new Uint8Array(32).fill(7))
    const id = await d.market.dealId(d.consumer.address, salt)
    expect(toHex(dealIdOf(d.consumer.address, salt))).to.equal(id)
    for (const i of [0, 1, 13, 254]) expect(toHex(slotIdOf(id, i))).to.equal(await d.market.slotId(id, i))
  })

  it('draws the same period samples over a set of many slots', async function () {
    const d = await networkHelpers.loadFixture(fixture)
    const deals = []
    for (let i = 0; i < 4; i++) deals.push(await activeDeal(d, { size: 256 * (5 + i * 7) }))
    const s1 = d.suppliers[0] as HardhatEthersSigner
    const first = (await d.market.supplierState(s1.address)).obligedFrom
    const n = Number(await d.market.slotCount(s1.address))
    expect(n).to.equal(4)
    for (let p = first; p < first + 5n; p++) {
      await gotoPeriod(d, p, 3n)
      const seed = await d.market.periodSeed(p)
      expect(seed).to.not.equal(ethers.ZeroHash)
      const [slotIds, segments] = await d.market.periodSamples(s1.address, p)
      const ours = periodSamples(seed, s1.address, p, Number(TEST_CONFIG.samplesPerPeriod), n)
      for (const [j, s] of ours.entries()) {
        const sid = await d.market.slotAt(s1.address, s.position)
        expect(sid).to.equal(slotIds[j])
        const slot = deals.flatMap((deal) => deal.fragments.map((f, i) => ({ sid: toHex(slotIdOf(deal.id, i)), f }))).find((x) => x.sid === sid)
        expect(BigInt(sampleSegment(s.r, slot?.f.segments ?? 0))).to.equal(segments[j])
      }
    }
  })

  it('derives the same fill segment', async function () {
    const d = await networkHelpers.loadFixture(fixture)
    const deal = await activeDeal(d, { size: 256 * 1000 })
    const block = await ethers.provider.getBlock('latest')
    if (!block?.hash) throw new Error('no block')
    await networkHelpers.mine(1) // a view sees blockhash(current block) as 0: read it from the next one
    for (const s of d.suppliers) {
      for (const i of [0, 2]) {
        expect(BigInt(fillSegment(block.hash, s.address, deal.id, i, 1000))).to.equal(await d.market.fillSegment(deal.id, i, s.address, block.number))
      }
    }
  })
})
