import { expect } from 'chai'
import { network } from 'hardhat'
import { FRAGMENT_SIZE, COLLATERAL, TEST_CONFIG, activeDeal, deploy, expectConserved, fill, fillProof, gotoPeriod, nextPeriod, openDeal, periodProof, prove, slotMap } from './helpers/fixture.ts'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/types'

const { ethers, networkHelpers } = await network.create()
const fixture = async () => await deploy(ethers, networkHelpers)
const SLOT_COLLATERAL = BigInt(FRAGMENT_SIZE) * COLLATERAL

/** s1 holds slot 0 of two deals; returns the deals and the first period it must prove. */
async function twoDeals (d: Awaited<ReturnType<typeof fixture>>) {
  const a = await activeDeal(d)
  const b = await activeDeal(d)
  const s1 = d.suppliers[0] as HardhatEthersSigner
  const first = (await d.market.supplierState(s1.address)).obligedFrom
  return { a, b, s1, first }
}

describe('Market: period proofs', function () {
  describe('provePeriod', function () {
    it('accepts one proof covering every slot the supplier holds', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const { a, b, s1, first } = await twoDeals(d)
      expect(await d.market.slotCount(s1.address)).to.equal(2n)
      await gotoPeriod(d, first, 3n)
      const proof = await periodProof(d, s1.address, first, slotMap([a, b]))
      await expect(d.market.connect(s1).provePeriod(first, proof)).to.emit(d.market, 'PeriodProven').withArgs(s1.address, first, 2n)
      expect(await d.market.isProven(s1.address, first)).to.equal(true)
      expect((await d.market.supplierState(s1.address)).proofsGiven).to.equal(1n)
    })
    it('rejects a replay for the same or another period', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const { a, b, s1, first } = await twoDeals(d)
      await gotoPeriod(d, first, 3n)
      const proof = await periodProof(d, s1.address, first, slotMap([a, b]))
      await d.market.connect(s1).provePeriod(first, proof)
      await expect(d.market.connect(s1).provePeriod(first, proof)).to.be.revertedWithCustomError(d.market, 'MarketAlreadyProven').withArgs(s1.address, first)
      // With 2 slots of 3 segments and 2 samples, 1 period in 36 samples the very same segments,
      // and then the old proof is a true proof of it: replay it into the next period that does not.
      let later = first + 1n
      for (;; later++) {
        await gotoPeriod(d, later, 3n)
        const own = await periodProof(d, s1.address, later, slotMap([a, b]))
        if (Buffer.compare(Buffer.from(own), Buffer.from(proof)) !== 0) break
        expect(later - first).to.be.lessThan(10n) // 36^-10: the seed is not moving
      }
      await expect(d.market.connect(s1).provePeriod(later, proof)).to.be.revertedWithCustomError(d.market, 'MarketInvalidProof')
      await expect(d.market.connect(s1).provePeriod(first, proof)).to.be.revertedWithCustomError(d.market, 'MarketPeriodNotCurrent').withArgs(first, later)
    })
    it('rejects a proof submitted by another supplier (bound to the sender)', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const { a, b, s1, first } = await twoDeals(d)
      await gotoPeriod(d, first, 3n)
      const proof = await periodProof(d, s1.address, first, slotMap([a, b]))
      const s2 = d.suppliers[1] as HardhatEthersSigner
      await expect(d.market.connect(s2).provePeriod(first, proof)).to.be.revertedWithCustomError(d.market, 'MarketInvalidProof')
    })
    it('rejects at the start block (no seed yet) and after the window', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const { a, b, s1, first } = await twoDeals(d)
      await gotoPeriod(d, first, 2n)
      const proof = await periodProof(d, s1.address, first, slotMap([a, b]))
      const p2 = first + 1n
      await gotoPeriod(d, p2, 0n) // next tx lands exactly on the start block
      await expect(d.market.connect(s1).provePeriod(p2, proof)).to.be.revertedWithCustomError(d.market, 'MarketSeedUnavailable').withArgs(p2)
      const start = await d.market.periodStartBlock(p2)
      await gotoPeriod(d, p2, TEST_CONFIG.proofWindow + 1n)
      await expect(d.market.connect(s1).provePeriod(p2, proof)).to.be.revertedWithCustomError(d.market, 'MarketProofWindowClosed').withArgs(p2, start + TEST_CONFIG.proofWindow)
    })
    it('rejects a wrong length, a tampered segment and a supplier without slots', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const { a, b, s1, first } = await twoDeals(d)
      await gotoPeriod(d, first, 3n)
      const proof = await periodProof(d, s1.address, first, slotMap([a, b]))
      await expect(d.market.connect(s1).provePeriod(first, proof.subarray(0, proof.length - 32))).to.be.revertedWithCustomError(d.market, 'MarketProofLength')
      const longer = new Uint8Array(proof.length + 1)
      longer.set(proof)
      await expect(d.market.connect(s1).provePeriod(first, longer)).to.be.revertedWithCustomError(d.market, 'MarketProofLength').withArgs(proof.length, proof.length + 1)
      const bad = Uint8Array.from(proof)
      bad[proof.length - 300] = (bad[proof.length - 300] as number) ^ 1
      await expect(d.market.connect(s1).provePeriod(first, bad)).to.be.revertedWithCustomError(d.market, 'MarketInvalidProof')
      await expect(d.market.connect(d.other).provePeriod(first, proof)).to.be.revertedWithCustomError(d.market, 'MarketNoSlots').withArgs(d.other.address)
    })
  })

  describe('cost does not grow with slots held', function () {
    it('a period proof costs about the same for 1 slot and for 30 slots (no loop over slots)', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const [s1, s2] = d.suppliers as [HardhatEthersSigner, HardhatEthersSigner]
      const one = await openDeal(d, { k: 1, m: 0 })
      await fill(d, one, 0, s2)
      const many = []
      for (let i = 0; i < 10; i++) {
        const deal = await openDeal(d)
        for (let j = 0; j < 3; j++) await fill(d, deal, j, s1)
        many.push(deal)
      }
      expect(await d.market.slotCount(s1.address)).to.equal(30n)
      const p = (await d.market.currentPeriod()) + 1n
      await gotoPeriod(d, p, 2n)
      const g1 = (await (await d.market.connect(s2).provePeriod(p, await periodProof(d, s2.address, p, slotMap([one])))).wait())?.gasUsed ?? 0n
      const g30 = (await (await d.market.connect(s1).provePeriod(p, await periodProof(d, s1.address, p, slotMap(many)))).wait())?.gasUsed ?? 0n
      // Only which storage words are cold differs (a few 2,100-gas reads), never a per-slot term.
      expect(g30 > g1 ? g30 - g1 : g1 - g30).to.be.lessThan(10_000n)
    })
  })

  describe('markMissed', function () {
    it('slashes part of the collateral, rewards the marker, pays the rest to the treasury', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const { s1, first } = await twoDeals(d)
      await gotoPeriod(d, first, TEST_CONFIG.proofWindow + 1n)
      const locked = (await d.staking.stakeOf(s1.address)).locked
      expect(locked).to.equal(2n * SLOT_COLLATERAL)
      const slashed = locked * TEST_CONFIG.missSlashBps / 10_000n
      const reward = slashed * TEST_CONFIG.markerRewardBps / 10_000n
      await expect(d.market.connect(d.other).markMissed(s1.address, first)).to.emit(d.market, 'PeriodMissed').withArgs(s1.address, first, d.other.address, slashed, reward, 1n)
      expect(await d.market.earnings(d.other.address)).to.equal(reward)
      expect(await d.market.earnings(d.treasury.address)).to.equal(slashed - reward)
      const t = await d.market.totals(s1.address)
      expect([t.proofsMissed, t.slashed]).to.deep.equal([1n, slashed])
      expect(await d.market.isMarkedMissed(s1.address, first)).to.equal(true)
      await expectConserved(d)
    })
    it('rejects while the window is open, twice, for a proven period and for a supplier without slots', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const { a, b, s1, first } = await twoDeals(d)
      await gotoPeriod(d, first, 2n)
      const closes = (await d.market.periodStartBlock(first)) + TEST_CONFIG.proofWindow
      await expect(d.market.markMissed(s1.address, first)).to.be.revertedWithCustomError(d.market, 'MarketProofWindowOpen').withArgs(first, closes)
      await prove(d, s1, first, [a, b])
      await gotoPeriod(d, first + 1n, TEST_CONFIG.proofWindow + 1n)
      await expect(d.market.markMissed(s1.address, first)).to.be.revertedWithCustomError(d.market, 'MarketNotObliged').withArgs(s1.address, first)
      await d.market.markMissed(s1.address, first + 1n)
      await expect(d.market.markMissed(s1.address, first + 1n)).to.be.revertedWithCustomError(d.market, 'MarketAlreadyMarked').withArgs(s1.address, first + 1n)
      await expect(d.market.markMissed(d.other.address, first)).to.be.revertedWithCustomError(d.market, 'MarketNotObliged').withArgs(d.other.address, first)
      await expect(d.market.markMissed(s1.address, first - 1n)).to.be.revertedWithCustomError(d.market, 'MarketNotObliged').withArgs(s1.address, first - 1n)
    })
    it('rejects marking a proven period (it is not after the last proof)', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const { a, b, s1, first } = await twoDeals(d)
      await gotoPeriod(d, first, 2n)
      await prove(d, s1, first, [a, b])
      await gotoPeriod(d, first, TEST_CONFIG.proofWindow + 1n)
      await expect(d.market.markMissed(s1.address, first)).to.be.revertedWithCustomError(d.market, 'MarketNotObliged').withArgs(s1.address, first)
    })
    it('jails after missesToJail misses in a row; a proof resets the streak', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const { a, b, s1, first } = await twoDeals(d)
      await gotoPeriod(d, first + 1n, TEST_CONFIG.proofWindow + 1n)
      await d.market.markMissed(s1.address, first)
      await gotoPeriod(d, first + 2n, 2n)
      await prove(d, s1, first + 2n, [a, b])
      expect((await d.market.supplierState(s1.address)).missStreak).to.equal(0n)
      let p = first + 3n
      for (let i = 0n; i < TEST_CONFIG.missesToJail; i++, p++) {
        await gotoPeriod(d, p, TEST_CONFIG.proofWindow + 1n)
        const tx = d.market.markMissed(s1.address, p)
        if (i === TEST_CONFIG.missesToJail - 1n) await expect(tx).to.emit(d.market, 'SupplierJailed').withArgs(s1.address, p)
        else await tx
      }
      expect((await d.market.supplierState(s1.address)).jailed).to.equal(true)
      await gotoPeriod(d, p, TEST_CONFIG.proofWindow + 1n)
      await expect(d.market.markMissed(s1.address, p)).to.be.revertedWithCustomError(d.market, 'MarketSupplierJailed').withArgs(s1.address)
      await gotoPeriod(d, p + 1n, 2n)
      const proof = await periodProof(d, s1.address, p + 1n, slotMap([a, b]))
      await expect(d.market.connect(s1).provePeriod(p + 1n, proof)).to.be.revertedWithCustomError(d.market, 'MarketSupplierJailed').withArgs(s1.address)
      await expectConserved(d)
    })
  })

  describe('repair after jail', function () {
    it('evicts the jailed holder lazily when a repairer fills its slot, and pays the bounty', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const { a, s1, first } = await twoDeals(d)
      let p = first
      for (let i = 0n; i < TEST_CONFIG.missesToJail; i++, p++) {
        await gotoPeriod(d, p, TEST_CONFIG.proofWindow + 1n)
        await d.market.markMissed(s1.address, p)
      }
      const s4 = d.suppliers[3] as HardhatEthersSigner
      const { seedBlock, proof } = await fillProof(d, a, 0, s4.address)
      const tx = d.market.connect(s4).fillSlot(a.id, 0, seedBlock, proof)
      await expect(tx).to.emit(d.market, 'SlotFreed')
      await expect(tx).to.emit(d.market, 'RepairBountyPaid')
      expect((await d.market.getSlot(a.id, 0)).holder).to.equal(s4.address)
      expect(await d.market.slotCount(s1.address)).to.equal(1n)
      const t = await d.market.totals(s4.address)
      expect(t.bytesRepaired).to.equal(BigInt(FRAGMENT_SIZE))
      expect(t.earned).to.be.greaterThan(0n)
      await expectConserved(d)
    })
    it('rejects a repairer on a healthy holder, and a jailed supplier filling', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const { a, s1, first } = await twoDeals(d)
      const s4 = d.suppliers[3] as HardhatEthersSigner
      let f = await fillProof(d, a, 0, s4.address)
      await expect(d.market.connect(s4).fillSlot(a.id, 0, f.seedBlock, f.proof)).to.be.revertedWithCustomError(d.market, 'MarketSlotNotFree').withArgs(a.id, 0, s1.address)
      let p = first
      for (let i = 0n; i < TEST_CONFIG.missesToJail; i++, p++) {
        await gotoPeriod(d, p, TEST_CONFIG.proofWindow + 1n)
        await d.market.markMissed(s1.address, p)
      }
      const c = await openDeal(d)
      f = await fillProof(d, c, 0, s1.address)
      await expect(d.market.connect(s1).fillSlot(c.id, 0, f.seedBlock, f.proof)).to.be.revertedWithCustomError(d.market, 'MarketSupplierJailed').withArgs(s1.address)
    })
    it('forfeits a jailed holder\'s collateral to the deal when its slot is released at the end', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d, { duration: 4n })
      const s1 = d.suppliers[0] as HardhatEthersSigner
      const { startPeriod, endPeriod } = await d.market.getDeal(deal.id)
      for (let p = startPeriod; p < startPeriod + TEST_CONFIG.missesToJail; p++) {
        await gotoPeriod(d, p, TEST_CONFIG.proofWindow + 1n)
        await d.market.markMissed(s1.address, p)
      }
      await gotoPeriod(d, endPeriod, 1n)
      await expect(d.market.releaseSlot(deal.id, 0)).to.emit(d.market, 'SlotReleased').withArgs(deal.id, 0, s1.address, 0n)
      await fill(d, await openDeal(d), 0, d.suppliers[1] as HardhatEthersSigner) // others still work
      await nextPeriod(d)
      await expectConserved(d)
    })
  })
})
