import { expect } from 'chai'
import { network } from 'hardhat'
import { FRAGMENT_SIZE, PRICE, TEST_CONFIG, activeDeal, deploy, expectConserved, gotoPeriod, prove } from './helpers/fixture.ts'
import { packedProof } from './helpers/fragments.ts'
import { dealIdOf, fillSegment, slotIdOf, slotRefOf, toHex } from '../../node/proofs/challenge.ts'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/types'

const { ethers, networkHelpers } = await network.create()
const fixture = async () => await deploy(ethers, networkHelpers)

describe('Market: construction and views', function () {
  describe('constructor', function () {
    it('rejects invalid configuration with the field name', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const base = { ...TEST_CONFIG, treasury: d.treasury.address }
      const factory = await ethers.getContractFactory('Market')
      const args = async (c: typeof base) => [await d.token.getAddress(), await d.staking.getAddress(), c] as const
      const cases: Array<[Partial<typeof base>, string]> = [
        [{ periodBlocks: 0n }, 'periodBlocks'],
        [{ proofWindow: 0n }, 'proofWindow'],
        [{ proofWindow: 256n, periodBlocks: 1000n }, 'proofWindow'],
        [{ proofWindow: 20n }, 'proofWindow'],
        [{ samplesPerPeriod: 0n }, 'samplesPerPeriod'],
        [{ challengeWindow: 256n }, 'challengeWindow'],
        [{ missesToJail: 0n }, 'missesToJail'],
        [{ maxDurationPeriods: 0n }, 'maxDurationPeriods'],
        [{ missSlashBps: 10_001n }, 'bps'],
        [{ treasury: ethers.ZeroAddress }, 'treasury'],
      ]
      for (const [change, field] of cases) {
        await expect(factory.deploy(...await args({ ...base, ...change }))).to.be.revertedWithCustomError(factory, 'MarketInvalidConfig').withArgs(field)
      }
    })
    it('exposes its configuration, genesis block and period arithmetic', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const c = await d.market.config()
      expect([c.periodBlocks, c.proofWindow, c.samplesPerPeriod, c.treasury]).to.deep.equal([TEST_CONFIG.periodBlocks, TEST_CONFIG.proofWindow, TEST_CONFIG.samplesPerPeriod, d.treasury.address])
      const g = await d.market.genesisBlock()
      expect(await d.market.periodStartBlock(3n)).to.equal(g + 3n * TEST_CONFIG.periodBlocks)
      expect(await d.market.currentPeriod()).to.equal((BigInt(await ethers.provider.getBlockNumber()) - g) / TEST_CONFIG.periodBlocks)
      expect(await d.market.token()).to.equal(await d.token.getAddress())
      expect(await d.market.staking()).to.equal(await d.staking.getAddress())
    })
  })

  describe('views', function () {
    it('rejects reading past the end of a slot set, samples of a supplier without slots, a segment without a challenge', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d)
      const s1 = d.suppliers[0] as HardhatEthersSigner
      await expect(d.market.slotAt(s1.address, 1)).to.be.revertedWithCustomError(d.market, 'MarketNoSlots').withArgs(s1.address)
      await expect(d.market.periodSamples(d.other.address, 1)).to.be.revertedWithCustomError(d.market, 'MarketNoSlots').withArgs(d.other.address)
      await expect(d.market.challengeSegment(deal.id, 0)).to.be.revertedWithCustomError(d.market, 'MarketNoChallenge').withArgs(deal.id, 0)
      await expect(d.market.fillSegment(ethers.ZeroHash, 0, s1.address, 1)).to.be.revertedWithCustomError(d.market, 'MarketDealNotFound').withArgs(ethers.ZeroHash)
    })
    it('names each slot by its deal id and index, as the node reads them back, and pages a slot set', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const a = await activeDeal(d)
      const b = await activeDeal(d, { k: 4, m: 2 })
      const salt = '0x' + '77'.repeat(32)
      expect(await d.market.dealId(d.consumer.address, salt)).to.equal(toHex(dealIdOf(d.consumer.address, salt)))
      for (const deal of [a, b]) {
        expect(BigInt(deal.id) & 0xffn).to.equal(0n)
        for (const i of [0, 2]) expect(await d.market.slotId(deal.id, i)).to.equal(toHex(slotIdOf(deal.id, i)))
      }
      // supplier 0 holds slot 0 of a, slots 0 and 4 of b (suppliers fill slot i % 4)
      const s0 = d.suppliers[0] as HardhatEthersSigner
      expect(d.suppliers.length).to.equal(4)
      const all = await d.market.slotsOf(s0.address, 0, 100)
      expect(all.map((sid) => slotRefOf(sid))).to.deep.equal([{ dealId: a.id, index: 0 }, { dealId: b.id, index: 0 }, { dealId: b.id, index: 4 }])
      expect(await d.market.slotsOf(s0.address, 1, 1)).to.deep.equal([all[1]])
      expect(await d.market.slotsOf(s0.address, 2, 5)).to.deep.equal([all[2]])
      expect(await d.market.slotsOf(s0.address, 3, 5)).to.deep.equal([])
      expect(await d.market.slotsOf(s0.address, 9, 5)).to.deep.equal([])
      expect(await d.market.slotsOf(d.other.address, 0, 5)).to.deep.equal([])
    })
    it('reports pending earnings and the supplier state', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d)
      const s1 = d.suppliers[0] as HardhatEthersSigner
      const { startPeriod } = await d.market.getDeal(deal.id)
      await gotoPeriod(d, startPeriod)
      await prove(d, s1, startPeriod, [deal])
      expect(await d.market.pendingEarnings(deal.id, 0)).to.equal(0n) // the current period is not settled yet
      await gotoPeriod(d, startPeriod + 1n)
      expect(await d.market.pendingEarnings(deal.id, 0)).to.equal(BigInt(FRAGMENT_SIZE) * PRICE)
      const st = await d.market.supplierState(s1.address)
      expect([st.proofsGiven, st.lastProven, st.slotCount, st.jailed]).to.deep.equal([1n, startPeriod, 1n, false])
    })
  })

  describe('pending challenges when the holder goes', function () {
    it('refunds a paid challenge fee when the slot is released at the end of the deal', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d, { duration: 1n })
      const { endPeriod } = await d.market.getDeal(deal.id)
      await gotoPeriod(d, endPeriod - 1n, TEST_CONFIG.periodBlocks - 2n)
      await d.market.connect(d.other).challengeSlot(deal.id, 0)
      await gotoPeriod(d, endPeriod, 1n)
      await expect(d.market.releaseSlot(deal.id, 0)).to.emit(d.market, 'ConsumerRefunded').withArgs(d.other.address, deal.id, TEST_CONFIG.challengeFee, 'challenge-fee')
      expect(await d.market.earnings(d.other.address)).to.equal(TEST_CONFIG.challengeFee)
      expect((await d.market.getChallenge(deal.id, 0)).challenger).to.equal(ethers.ZeroAddress)
      await expectConserved(d)
    })
    it('refunds it when a jailed holder is evicted by a repair', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d, { duration: 20n })
      const s1 = d.suppliers[0] as HardhatEthersSigner
      let p = (await d.market.getDeal(deal.id)).startPeriod
      for (let i = 0n; i < TEST_CONFIG.missesToJail; i++, p++) {
        await gotoPeriod(d, p, TEST_CONFIG.proofWindow + 1n)
        await d.market.markMissed(s1.address, p)
      }
      await d.market.connect(d.other).challengeSlot(deal.id, 0)
      const block = await ethers.provider.getBlock('latest')
      const s4 = d.suppliers[3] as HardhatEthersSigner
      const fragment = deal.fragments[0]
      if (!block?.hash || !fragment) throw new Error('setup')
      const proof = packedProof(fragment, fillSegment(block.hash, s4.address, deal.id, 0, fragment.segments))
      await expect(d.market.connect(s4).fillSlot(deal.id, 0, block.number, proof)).to.emit(d.market, 'ConsumerRefunded').withArgs(d.other.address, deal.id, TEST_CONFIG.challengeFee, 'challenge-fee')
      expect((await d.market.getSlot(deal.id, 0)).holder).to.equal(s4.address)
      expect((await d.market.supplierState(s4.address)).bytesRepaired).to.equal(BigInt(FRAGMENT_SIZE))
      await expectConserved(d)
    })
  })
})
