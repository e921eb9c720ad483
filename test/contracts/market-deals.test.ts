import { expect } from 'chai'
import { network } from 'hardhat'
import {
  COLLATERAL, DURATION, E18, FRAGMENT_SIZE, PRICE, TEST_CONFIG, activeDeal, deploy, expectConserved, fill, fillProof, gotoPeriod, nextPeriod, openDeal, prove, signPermit } from './helpers/fixture.ts'
import { makeFragment, packedProof } from './helpers/fragments.ts'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/types'

const { ethers, networkHelpers } = await network.create()
const fixture = async () => await deploy(ethers, networkHelpers)
const ESCROW = 3n * BigInt(FRAGMENT_SIZE) * PRICE * DURATION
const SLOT_COLLATERAL = BigInt(FRAGMENT_SIZE) * COLLATERAL
const Status = { None: 0n, Filling: 1n, Failed: 2n, Active: 3n, Ended: 4n, Cancelled: 5n, Finalized: 6n }

describe('Market: deals', function () {
  describe('openDeal', function () {
    it('escrows the full price and records the deal', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const before = await d.token.balanceOf(d.consumer.address)
      const deal = await openDeal(d)
      expect(await d.token.balanceOf(d.consumer.address)).to.equal(before - ESCROW)
      const stored = await d.market.getDeal(deal.id)
      expect(stored.escrow).to.equal(ESCROW)
      expect(stored.consumer).to.equal(d.consumer.address)
      expect(await d.market.dealStatus(deal.id)).to.equal(Status.Filling)
      expect((await d.market.getSlot(deal.id, 2)).root).to.equal(deal.fragments[2]?.root)
      expect((await d.market.totals(d.consumer.address)).paid).to.equal(ESCROW)
      await expectConserved(d)
    })
    it('emits DealOpened with the roots', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const f = makeFragment(256, 'single')
      const params = { dataSlots: 1, paritySlots: 0, fragmentSize: 256, durationPeriods: 1, pricePerBytePeriod: 1n, collateralPerByte: 0n }
      const id = await d.market.dealId(d.consumer.address, ethers.ZeroHash)
      await expect(d.market.connect(d.consumer).openDeal(params, ethers.ZeroHash, [f.root])).to.emit(d.market, 'DealOpened')
      await expect(d.market.connect(d.consumer).openDeal(params, ethers.ZeroHash, [f.root])).to.be.revertedWithCustomError(d.market, 'MarketDealExists').withArgs(id)
    })
    it('rejects invalid parameters with the matching error', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const m = d.market.connect(d.consumer)
      const root = makeFragment(256, 'r').root
      const ok = { dataSlots: 1, paritySlots: 0, fragmentSize: 256, durationPeriods: 1, pricePerBytePeriod: 1n, collateralPerByte: 0n }
      const salt = ethers.ZeroHash
      await expect(m.openDeal({ ...ok, dataSlots: 0 }, salt, [])).to.be.revertedWithCustomError(m, 'MarketInvalidSlotCount').withArgs(0, 0)
      await expect(m.openDeal({ ...ok, dataSlots: 200, paritySlots: 100 }, salt, [])).to.be.revertedWithCustomError(m, 'MarketInvalidSlotCount').withArgs(200, 100)
      await expect(m.openDeal({ ...ok, fragmentSize: 300 }, salt, [root])).to.be.revertedWithCustomError(m, 'MarketInvalidFragmentSize').withArgs(300)
      await expect(m.openDeal({ ...ok, fragmentSize: 0 }, salt, [root])).to.be.revertedWithCustomError(m, 'MarketInvalidFragmentSize').withArgs(0)
      await expect(m.openDeal({ ...ok, durationPeriods: 0 }, salt, [root])).to.be.revertedWithCustomError(m, 'MarketInvalidDuration').withArgs(0, TEST_CONFIG.maxDurationPeriods)
      await expect(m.openDeal({ ...ok, durationPeriods: 1001 }, salt, [root])).to.be.revertedWithCustomError(m, 'MarketInvalidDuration').withArgs(1001, TEST_CONFIG.maxDurationPeriods)
      await expect(m.openDeal({ ...ok, pricePerBytePeriod: 0n }, salt, [root])).to.be.revertedWithCustomError(m, 'MarketInvalidPrice')
      await expect(m.openDeal(ok, salt, [root, root])).to.be.revertedWithCustomError(m, 'MarketRootCount').withArgs(1, 2)
      await expect(m.openDeal(ok, salt, [ethers.ZeroHash])).to.be.revertedWithCustomError(m, 'MarketZeroRoot').withArgs(0)
    })
    it('accepts a permit instead of an approve', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const market = await d.market.getAddress()
      await d.token.connect(d.other).approve(market, 0n)
      const params = { dataSlots: 1, paritySlots: 0, fragmentSize: 256, durationPeriods: 2, pricePerBytePeriod: 3n, collateralPerByte: 0n }
      const { deadline, v, r, s } = await signPermit(ethers, d.other, await d.token.getAddress(), market, 256n * 3n * 2n)
      await d.market.connect(d.other).openDealWithPermit(params, ethers.ZeroHash, [makeFragment(256, 'p').root], deadline, v, r, s)
      expect((await d.market.getDeal(await d.market.dealId(d.other.address, ethers.ZeroHash))).escrow).to.equal(256n * 3n * 2n)
    })
  })

  describe('fillSlot', function () {
    it('locks collateral, adds the slot to the supplier set and starts the deal when full', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await openDeal(d)
      const [s1, s2, s3] = d.suppliers as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner]
      await fill(d, deal, 0, s1)
      expect((await d.staking.stakeOf(s1.address)).locked).to.equal(SLOT_COLLATERAL)
      expect(await d.market.slotCount(s1.address)).to.equal(1n)
      expect((await d.market.getSlot(deal.id, 0)).holder).to.equal(s1.address)
      await fill(d, deal, 1, s2)
      const { seedBlock, proof } = await fillProof(d, deal, 2, s3.address)
      await expect(d.market.connect(s3).fillSlot(deal.id, 2, seedBlock, proof)).to.emit(d.market, 'DealStarted')
      expect(await d.market.dealStatus(deal.id)).to.equal(Status.Active)
      const stored = await d.market.getDeal(deal.id)
      expect(stored.endPeriod - stored.startPeriod).to.equal(DURATION)
    })
    it('rejects a proof stolen by another supplier (the segment is bound to the sender)', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await openDeal(d, { size: 256 * 64 })
      const [s1, s2] = d.suppliers as [HardhatEthersSigner, HardhatEthersSigner]
      // Find a seed where the two suppliers are asked different segments, then replay s1's proof as s2.
      for (let tries = 0; tries < 10; tries++) {
        const a = await fillProof(d, deal, 0, s1.address)
        const b = await fillProof(d, deal, 0, s2.address)
        if (Buffer.from(a.proof).equals(Buffer.from(b.proof))) { await networkHelpers.mine(1); continue }
        await expect(d.market.connect(s2).fillSlot(deal.id, 0, a.seedBlock, a.proof)).to.be.revertedWithCustomError(d.market, 'MarketInvalidProof')
        return
      }
      throw new Error('no distinguishing seed found')
    })
    it('rejects a wrong proof, a bad length and a bad seed block', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await openDeal(d)
      const s1 = d.suppliers[0] as HardhatEthersSigner
      const { seedBlock, proof } = await fillProof(d, deal, 0, s1.address)
      const bad = Uint8Array.from(proof)
      bad[3] = (bad[3] as number) ^ 1
      await expect(d.market.connect(s1).fillSlot(deal.id, 0, seedBlock, bad)).to.be.revertedWithCustomError(d.market, 'MarketInvalidProof')
      await expect(d.market.connect(s1).fillSlot(deal.id, 0, seedBlock, proof.subarray(0, 300))).to.be.revertedWithCustomError(d.market, 'MarketProofLength').withArgs(256 + 64, 300)
      const now = await ethers.provider.getBlockNumber()
      await expect(d.market.connect(s1).fillSlot(deal.id, 0, now + 1, proof)).to.be.revertedWithCustomError(d.market, 'MarketSeedBlockInvalid').withArgs(now + 1, now + 1)
      await networkHelpers.mine(70)
      await expect(d.market.connect(s1).fillSlot(deal.id, 0, seedBlock, proof)).to.be.revertedWithCustomError(d.market, 'MarketSeedBlockInvalid')
    })
    it('rejects a filled slot, an index out of range, an unknown deal and an unregistered supplier', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await openDeal(d)
      const [s1, s2] = d.suppliers as [HardhatEthersSigner, HardhatEthersSigner]
      await fill(d, deal, 0, s1)
      let p = await fillProof(d, deal, 0, s2.address)
      await expect(d.market.connect(s2).fillSlot(deal.id, 0, p.seedBlock, p.proof)).to.be.revertedWithCustomError(d.market, 'MarketSlotNotFree').withArgs(deal.id, 0, s1.address)
      await expect(d.market.connect(s2).fillSlot(deal.id, 3, p.seedBlock, p.proof)).to.be.revertedWithCustomError(d.market, 'MarketSlotOutOfRange').withArgs(deal.id, 3, 3)
      await expect(d.market.connect(s2).fillSlot(ethers.ZeroHash, 0, p.seedBlock, p.proof)).to.be.revertedWithCustomError(d.market, 'MarketDealNotFilling').withArgs(ethers.ZeroHash, Status.None)
      p = await fillProof(d, deal, 1, d.other.address)
      await expect(d.market.connect(d.other).fillSlot(deal.id, 1, p.seedBlock, p.proof)).to.be.revertedWithCustomError(d.staking, 'StakingNotRegistered').withArgs(d.other.address)
    })
    it('rejects a supplier without enough free stake', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await openDeal(d, { collateral: 10n ** 18n })
      const s1 = d.suppliers[0] as HardhatEthersSigner
      const p = await fillProof(d, deal, 0, s1.address)
      await expect(d.market.connect(s1).fillSlot(deal.id, 0, p.seedBlock, p.proof)).to.be.revertedWithCustomError(d.staking, 'StakingInsufficientStake')
    })
    it('rejects after the fill deadline (the deal failed)', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await openDeal(d)
      await networkHelpers.mine(TEST_CONFIG.fillDeadlineBlocks)
      expect(await d.market.dealStatus(deal.id)).to.equal(Status.Failed)
      const s1 = d.suppliers[0] as HardhatEthersSigner
      const p = await fillProof(d, deal, 0, s1.address)
      await expect(d.market.connect(s1).fillSlot(deal.id, 0, p.seedBlock, p.proof)).to.be.revertedWithCustomError(d.market, 'MarketDealNotFilling').withArgs(deal.id, Status.Failed)
    })
  })

  describe('failed deal: releaseSlot + finalizeDeal', function () {
    it('returns collateral and refunds the consumer in full', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const before = await d.token.balanceOf(d.consumer.address)
      const deal = await openDeal(d)
      const s1 = d.suppliers[0] as HardhatEthersSigner
      await fill(d, deal, 0, s1)
      await expect(d.market.finalizeDeal(deal.id)).to.be.revertedWithCustomError(d.market, 'MarketDealNotOver').withArgs(deal.id, Status.Filling)
      await expect(d.market.releaseSlot(deal.id, 0)).to.be.revertedWithCustomError(d.market, 'MarketDealNotOver').withArgs(deal.id, Status.Filling)
      await networkHelpers.mine(TEST_CONFIG.fillDeadlineBlocks)
      await expect(d.market.finalizeDeal(deal.id)).to.be.revertedWithCustomError(d.market, 'MarketSlotsStillHeld').withArgs(deal.id, 1)
      await expect(d.market.releaseSlot(deal.id, 1)).to.be.revertedWithCustomError(d.market, 'MarketSlotNotFilled').withArgs(deal.id, 1)
      await expect(d.market.releaseSlot(deal.id, 0)).to.emit(d.market, 'SlotReleased').withArgs(deal.id, 0, s1.address, SLOT_COLLATERAL)
      expect((await d.staking.stakeOf(s1.address)).locked).to.equal(0n)
      expect(await d.market.slotCount(s1.address)).to.equal(0n)
      await expect(d.market.finalizeDeal(deal.id)).to.emit(d.market, 'DealFinalized').withArgs(deal.id, d.consumer.address, ESCROW)
      expect(await d.token.balanceOf(d.consumer.address)).to.equal(before)
      await expect(d.market.finalizeDeal(deal.id)).to.be.revertedWithCustomError(d.market, 'MarketDealNotOver').withArgs(deal.id, Status.Finalized)
      await expectConserved(d)
    })
  })

  describe('settleSlot + claim (lazy payouts)', function () {
    it('pays each slot for the periods its holder proved, and nothing for a missed one', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d)
      const s1 = d.suppliers[0] as HardhatEthersSigner
      const start = (await d.market.getDeal(deal.id)).startPeriod
      await gotoPeriod(d, start)
      await prove(d, s1, start, [deal])
      await nextPeriod(d) // start + 1: not proved
      const p2 = await nextPeriod(d)
      await prove(d, s1, p2, [deal])
      await nextPeriod(d)
      const perPeriod = BigInt(FRAGMENT_SIZE) * PRICE
      expect(await d.market.pendingEarnings(deal.id, 0)).to.equal(2n * perPeriod)
      await expect(d.market.settleSlot(deal.id, 0)).to.emit(d.market, 'SlotSettled').withArgs(deal.id, 0, s1.address, 2n * perPeriod, 2n, 2n * BigInt(FRAGMENT_SIZE), start + 3n)
      expect(await d.market.earnings(s1.address)).to.equal(2n * perPeriod)
      const t = await d.market.totals(s1.address)
      expect([t.proofsGiven, t.bytePeriodsStored, t.earned]).to.deep.equal([2n, 2n * BigInt(FRAGMENT_SIZE), 2n * perPeriod])
      // Settling again pays nothing new.
      await d.market.settleSlot(deal.id, 0)
      expect(await d.market.earnings(s1.address)).to.equal(2n * perPeriod)
      const before = await d.token.balanceOf(s1.address)
      await expect(d.market.connect(s1).claim()).to.emit(d.market, 'EarningsClaimed').withArgs(s1.address, 2n * perPeriod)
      expect(await d.token.balanceOf(s1.address)).to.equal(before + 2n * perPeriod)
      await expect(d.market.connect(s1).claim()).to.be.revertedWithCustomError(d.market, 'MarketNothingToClaim').withArgs(s1.address)
      await expectConserved(d)
    })
    it('rejects settling a free slot', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await openDeal(d)
      await expect(d.market.settleSlot(deal.id, 0)).to.be.revertedWithCustomError(d.market, 'MarketSlotNotFilled').withArgs(deal.id, 0)
      await expect(d.market.settleSlot(ethers.ZeroHash, 0)).to.be.revertedWithCustomError(d.market, 'MarketDealNotFound').withArgs(ethers.ZeroHash)
    })
  })

  describe('end of deal', function () {
    it('pays proven periods up to the end, returns collateral, refunds unserved escrow', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d, { duration: 3n })
      const s1 = d.suppliers[0] as HardhatEthersSigner
      const { startPeriod, endPeriod } = await d.market.getDeal(deal.id)
      for (let p = startPeriod; p < endPeriod + 2n; p++) {
        await gotoPeriod(d, p)
        await prove(d, s1, p, [deal]) // keeps proving after the end: not paid for that
      }
      expect(await d.market.dealStatus(deal.id)).to.equal(Status.Ended)
      for (let i = 0; i < 3; i++) await d.market.releaseSlot(deal.id, i)
      const perPeriod = BigInt(FRAGMENT_SIZE) * PRICE
      expect(await d.market.earnings(s1.address)).to.equal(3n * perPeriod)
      expect(await d.staking.freeStake(s1.address)).to.equal(100n * E18)
      await expect(d.market.finalizeDeal(deal.id)).to.emit(d.market, 'DealFinalized').withArgs(deal.id, d.consumer.address, 3n * BigInt(FRAGMENT_SIZE) * PRICE * 3n - 3n * perPeriod)
      await expectConserved(d)
    })
  })

  describe('extendDeal', function () {
    it('keeps an active deal running for more periods at its price: the holders are paid for them, the consumer pays the extra escrow', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d, { duration: 2n })
      const s1 = d.suppliers[0] as HardhatEthersSigner
      const { startPeriod, endPeriod } = await d.market.getDeal(deal.id)
      const extra = 3n * BigInt(FRAGMENT_SIZE) * PRICE * 3n
      const before = await d.token.balanceOf(d.consumer.address)
      await expect(d.market.connect(d.consumer).extendDeal(deal.id, 3))
        .to.emit(d.market, 'DealExtended').withArgs(deal.id, 3n, 5n, endPeriod + 3n, extra)
        .and.to.emit(d.market, 'ConsumerPaid').withArgs(d.consumer.address, deal.id, extra, 'extension')
      expect(await d.token.balanceOf(d.consumer.address)).to.equal(before - extra)
      const after = await d.market.getDeal(deal.id)
      expect([after.durationPeriods, after.endPeriod, after.escrow]).to.deep.equal([5n, endPeriod + 3n, 3n * BigInt(FRAGMENT_SIZE) * PRICE * 5n])
      expect((await d.market.totals(d.consumer.address)).paid).to.equal(3n * BigInt(FRAGMENT_SIZE) * PRICE * 5n)
      // Proven past the old end: still active and paid, up to the new end only.
      for (let p = startPeriod; p < endPeriod + 4n; p++) {
        await gotoPeriod(d, p)
        await prove(d, s1, p, [deal])
        if (p === endPeriod) expect(await d.market.dealStatus(deal.id)).to.equal(Status.Active)
      }
      expect(await d.market.dealStatus(deal.id)).to.equal(Status.Ended)
      for (let i = 0; i < 3; i++) await d.market.releaseSlot(deal.id, i)
      expect(await d.market.earnings(s1.address)).to.equal(5n * BigInt(FRAGMENT_SIZE) * PRICE)
      await expectConserved(d)
    })
    it('lengthens a deal still filling, whose term then starts with its last fill', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await openDeal(d, { duration: 2n })
      await expect(d.market.connect(d.consumer).extendDeal(deal.id, 1)).to.emit(d.market, 'DealExtended').withArgs(deal.id, 1n, 3n, 0n, 3n * BigInt(FRAGMENT_SIZE) * PRICE)
      for (let i = 0; i < 3; i++) await fill(d, deal, i, d.suppliers[i] as HardhatEthersSigner)
      const { startPeriod, endPeriod } = await d.market.getDeal(deal.id)
      expect(endPeriod - startPeriod).to.equal(3n)
    })
    it('takes a permit for the extra escrow instead of an approve', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d, { duration: 2n })
      const market = await d.market.getAddress()
      await d.token.connect(d.consumer).approve(market, 0n)
      const extra = 3n * BigInt(FRAGMENT_SIZE) * PRICE * 4n
      const { deadline, v, r, s } = await signPermit(ethers, d.consumer, await d.token.getAddress(), market, extra, await d.token.nonces(d.consumer.address))
      await expect(d.market.connect(d.consumer).extendDealWithPermit(deal.id, 4, deadline, v, r, s)).to.emit(d.market, 'DealExtended')
      expect((await d.market.getDeal(deal.id)).durationPeriods).to.equal(6n)
      await expectConserved(d)
    })
    it('rejects another caller, no periods, a term beyond the maximum, and a deal that is over', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d, { duration: 2n })
      const m = d.market.connect(d.consumer)
      await expect(d.market.connect(d.other).extendDeal(deal.id, 1)).to.be.revertedWithCustomError(d.market, 'MarketNotConsumer').withArgs(deal.id, d.other.address)
      await expect(m.extendDeal(deal.id, 0)).to.be.revertedWithCustomError(d.market, 'MarketInvalidDuration').withArgs(2n, TEST_CONFIG.maxDurationPeriods)
      await expect(m.extendDeal(deal.id, TEST_CONFIG.maxDurationPeriods - 1n)).to.be.revertedWithCustomError(d.market, 'MarketInvalidDuration').withArgs(TEST_CONFIG.maxDurationPeriods + 1n, TEST_CONFIG.maxDurationPeriods)
      await m.extendDeal(deal.id, TEST_CONFIG.maxDurationPeriods - 2n) // exactly the maximum
      await m.cancelDeal(deal.id)
      await expect(m.extendDeal(deal.id, 1)).to.be.revertedWithCustomError(d.market, 'MarketDealNotActive').withArgs(deal.id, Status.Cancelled)
      await expect(m.extendDeal(ethers.ZeroHash, 1)).to.be.revertedWithCustomError(d.market, 'MarketDealNotActive').withArgs(ethers.ZeroHash, Status.None)
    })
  })

  describe('cancelDeal', function () {
    it('stops an active deal: only elapsed proven periods are paid', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d)
      const s1 = d.suppliers[0] as HardhatEthersSigner
      const { startPeriod } = await d.market.getDeal(deal.id)
      await gotoPeriod(d, startPeriod)
      await prove(d, s1, startPeriod, [deal])
      await nextPeriod(d)
      await expect(d.market.connect(d.consumer).cancelDeal(deal.id)).to.emit(d.market, 'DealCancelled').withArgs(deal.id, startPeriod + 1n)
      await nextPeriod(d)
      for (let i = 0; i < 3; i++) await d.market.releaseSlot(deal.id, i)
      const perPeriod = BigInt(FRAGMENT_SIZE) * PRICE
      expect(await d.market.earnings(s1.address)).to.equal(perPeriod)
      await expect(d.market.finalizeDeal(deal.id)).to.emit(d.market, 'DealFinalized').withArgs(deal.id, d.consumer.address, ESCROW - perPeriod)
      await expectConserved(d)
    })
    it('stops a deal that is still filling', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await openDeal(d)
      await d.market.connect(d.consumer).cancelDeal(deal.id)
      expect(await d.market.dealStatus(deal.id)).to.equal(Status.Cancelled)
      await expect(d.market.finalizeDeal(deal.id)).to.emit(d.market, 'DealFinalized').withArgs(deal.id, d.consumer.address, ESCROW)
    })
    it('rejects a caller that is not the consumer, and a deal that is over', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await openDeal(d)
      await expect(d.market.connect(d.other).cancelDeal(deal.id)).to.be.revertedWithCustomError(d.market, 'MarketNotConsumer').withArgs(deal.id, d.other.address)
      await d.market.connect(d.consumer).cancelDeal(deal.id)
      await expect(d.market.connect(d.consumer).cancelDeal(deal.id)).to.be.revertedWithCustomError(d.market, 'MarketDealNotActive').withArgs(deal.id, Status.Cancelled)
    })
  })
})
