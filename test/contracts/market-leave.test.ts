import { expect } from 'chai'
import { network } from 'hardhat'
import { COLLATERAL, E18, FRAGMENT_SIZE, PRICE, TEST_CONFIG, activeDeal, deploy, expectConserved, fill, gotoPeriod, nextPeriod, openDeal, prove } from './helpers/fixture.ts'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/types'

const { ethers, networkHelpers } = await network.create()
const fixture = async () => await deploy(ethers, networkHelpers)
const SLOT_COLLATERAL = BigInt(FRAGMENT_SIZE) * COLLATERAL
const Status = { Filling: 1n, Active: 3n, Ended: 4n }
const HOLDER_LEFT = 2

describe('Market: leaveSlot (a holder leaves before the deal ends)', function () {
  it('pays what the holder earned, forfeits the collateral into the bounty and frees the slot, without jail or marker reward', async function () {
    const d = await networkHelpers.loadFixture(fixture)
    const deal = await activeDeal(d)
    const s1 = d.suppliers[0] as HardhatEthersSigner
    const start = (await d.market.getDeal(deal.id)).startPeriod
    await gotoPeriod(d, start)
    await prove(d, s1, start, [deal])
    const p1 = await nextPeriod(d)
    await prove(d, s1, p1, [deal])
    // Periods before the current one are paid; the current one, proven or not, is the holder's loss.
    const earned = BigInt(FRAGMENT_SIZE) * PRICE
    const tx = d.market.connect(s1).leaveSlot(deal.id, 0)
    await expect(tx).to.emit(d.market, 'SlotSettled').withArgs(deal.id, 0, s1.address, earned, 1n, BigInt(FRAGMENT_SIZE), p1)
    await expect(tx).to.emit(d.market, 'SlotFreed').withArgs(deal.id, 0, s1.address, HOLDER_LEFT, SLOT_COLLATERAL)
    await expect(tx).to.emit(d.market, 'SupplierSlashed').withArgs(s1.address, deal.id, SLOT_COLLATERAL, 'left')
    await expect(tx).not.to.emit(d.market, 'ChallengeExpired')
    expect((await d.market.getSlot(deal.id, 0)).holder).to.equal(ethers.ZeroAddress)
    const after = await d.market.getDeal(deal.id)
    expect([after.filled, after.bounty]).to.deep.equal([2n, SLOT_COLLATERAL])
    expect(await d.market.dealStatus(deal.id)).to.equal(Status.Active)
    expect(await d.market.earnings(s1.address)).to.equal(earned)
    expect(await d.market.slotCount(s1.address)).to.equal(0n)
    const state = await d.market.supplierState(s1.address)
    expect([state.jailed, state.proofsMissed]).to.deep.equal([false, 0n])
    const st = await d.staking.stakeOf(s1.address)
    expect([st.staked, st.locked]).to.deep.equal([100n * E18 - SLOT_COLLATERAL, 0n])
    expect((await d.market.totals(s1.address)).slashed).to.equal(SLOT_COLLATERAL)
    await expectConserved(d)
  })

  it('leaves the holder free to take new slots, and the freed one is repaired for the bounty', async function () {
    const d = await networkHelpers.loadFixture(fixture)
    const deal = await activeDeal(d)
    const s1 = d.suppliers[0] as HardhatEthersSigner
    const s4 = d.suppliers[3] as HardhatEthersSigner
    await d.market.connect(s1).leaveSlot(deal.id, 0)
    await fill(d, deal, 0, s4)
    const paid = SLOT_COLLATERAL * TEST_CONFIG.repairBountyBps / 10_000n
    expect(await d.market.earnings(s4.address)).to.equal(paid)
    expect((await d.market.getDeal(deal.id)).bounty).to.equal(SLOT_COLLATERAL - paid)
    expect((await d.market.getDeal(deal.id)).filled).to.equal(3n)
    const other = await activeDeal(d)
    expect((await d.market.getSlot(other.id, 0)).holder).to.equal(s1.address)
    await expectConserved(d)
  })

  it('waits, once a period\'s samples are drawn, until the holder proved them or their window closed', async function () {
    const d = await networkHelpers.loadFixture(fixture)
    const deal = await activeDeal(d)
    const [s1, s2, s3] = d.suppliers as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner]
    const start = (await d.market.getDeal(deal.id)).startPeriod
    await gotoPeriod(d, start)
    const closes = (await d.market.periodStartBlock(start)) + TEST_CONFIG.proofWindow
    // Leaving a slot now would move the samples off whatever the holder does not have.
    for (const [i, s] of [s1, s2, s3].entries()) {
      await expect(d.market.connect(s).leaveSlot(deal.id, i)).to.be.revertedWithCustomError(d.market, 'MarketProveBeforeLeaving').withArgs(start, closes)
    }
    await prove(d, s1, start, [deal])
    await expect(d.market.connect(s1).leaveSlot(deal.id, 0)).to.emit(d.market, 'SlotFreed')
    // A holder that cannot prove (it lost the data) leaves once the window is over.
    await gotoPeriod(d, start, TEST_CONFIG.proofWindow)
    await expect(d.market.connect(s2).leaveSlot(deal.id, 1)).to.be.revertedWithCustomError(d.market, 'MarketProveBeforeLeaving')
    await gotoPeriod(d, start, TEST_CONFIG.proofWindow + 1n)
    await expect(d.market.connect(s2).leaveSlot(deal.id, 1)).to.emit(d.market, 'SlotFreed')
    await expectConserved(d)
  })

  it('past the term the deal started with, a holder leaves with its collateral: an extension binds the consumer\'s money, not the holders', async function () {
    const d = await networkHelpers.loadFixture(fixture)
    const deal = await activeDeal(d)
    const [s1, s2] = d.suppliers as [HardhatEthersSigner, HardhatEthersSigner]
    const started = await d.market.getDeal(deal.id)
    expect(started.boundUntil).to.equal(started.endPeriod)
    await d.market.connect(d.consumer).extendDeal(deal.id, 5)
    const extended = await d.market.getDeal(deal.id)
    expect([extended.endPeriod, extended.boundUntil]).to.deep.equal([started.endPeriod + 5n, started.endPeriod])
    // Within the first term leaving still costs the collateral...
    await expect(d.market.connect(s1).leaveSlot(deal.id, 0)).to.emit(d.market, 'SupplierSlashed').withArgs(s1.address, deal.id, SLOT_COLLATERAL, 'left')
    // ...from its end on, in periods only the extension added, it does not.
    await gotoPeriod(d, started.endPeriod, TEST_CONFIG.proofWindow + 1n)
    expect(await d.market.dealStatus(deal.id)).to.equal(Status.Active)
    const before = await d.staking.stakeOf(s2.address)
    const tx = d.market.connect(s2).leaveSlot(deal.id, 1)
    await expect(tx).to.emit(d.market, 'SlotFreed').withArgs(deal.id, 1, s2.address, HOLDER_LEFT, 0n)
    await expect(tx).to.emit(d.staking, 'CollateralUnlocked').withArgs(s2.address, SLOT_COLLATERAL, before.locked - SLOT_COLLATERAL)
    await expect(tx).not.to.emit(d.market, 'SupplierSlashed')
    const after = await d.staking.stakeOf(s2.address)
    expect([after.staked, after.locked]).to.deep.equal([before.staked, before.locked - SLOT_COLLATERAL])
    expect((await d.market.getSlot(deal.id, 1)).holder).to.equal(ethers.ZeroAddress)
    expect((await d.market.getDeal(deal.id)).bounty).to.equal(SLOT_COLLATERAL, 'only the first leave paid into the bounty')
    // The slot is free for anyone to take over for the rest of the extension.
    await fill(d, deal, 1, d.suppliers[3] as HardhatEthersSigner)
    await expectConserved(d)
  })

  it('is refused to anyone but the holder, on a deal that is not active, and while a challenge is pending', async function () {
    const d = await networkHelpers.loadFixture(fixture)
    const s1 = d.suppliers[0] as HardhatEthersSigner
    const s2 = d.suppliers[1] as HardhatEthersSigner
    const filling = await openDeal(d)
    await fill(d, filling, 0, s1)
    await expect(d.market.connect(s1).leaveSlot(filling.id, 0)).to.be.revertedWithCustomError(d.market, 'MarketDealNotActive').withArgs(filling.id, Status.Filling)
    const deal = await activeDeal(d)
    await expect(d.market.connect(s2).leaveSlot(deal.id, 0)).to.be.revertedWithCustomError(d.market, 'MarketNotHolder').withArgs(deal.id, 0, s2.address)
    await expect(d.market.connect(s1).leaveSlot(deal.id, 7)).to.be.revertedWithCustomError(d.market, 'MarketSlotOutOfRange').withArgs(deal.id, 7, 3)
    await d.market.connect(d.consumer).challengeSlot(deal.id, 0)
    await expect(d.market.connect(s1).leaveSlot(deal.id, 0)).to.be.revertedWithCustomError(d.market, 'MarketChallengePending').withArgs(deal.id, 0)
    expect((await d.market.getSlot(deal.id, 0)).holder).to.equal(s1.address)
    // Once the deal is over the holder releases the slot instead, collateral back.
    await gotoPeriod(d, (await d.market.getDeal(deal.id)).endPeriod)
    await expect(d.market.connect(s2).leaveSlot(deal.id, 1)).to.be.revertedWithCustomError(d.market, 'MarketDealNotActive').withArgs(deal.id, Status.Ended)
    await expect(d.market.releaseSlot(deal.id, 1)).to.emit(d.market, 'SlotReleased').withArgs(deal.id, 1, s2.address, SLOT_COLLATERAL)
    await expectConserved(d)
  })
})
