import { expect } from 'chai'
import { network } from 'hardhat'
import { COLLATERAL, E18, FRAGMENT_SIZE, TEST_CONFIG, activeDeal, deploy, expectConserved, fill, openDeal } from './helpers/fixture.ts'
import { packedProof } from './helpers/fragments.ts'
import { slotIdOf, targetedSegment } from '../../node/proofs/challenge.ts'
import type { Deployment, OpenedDeal } from './helpers/fixture.ts'
import type { Fragment } from './helpers/fragments.ts'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/types'

const { ethers, networkHelpers } = await network.create()
const fixture = async () => await deploy(ethers, networkHelpers)
const SLOT_COLLATERAL = BigInt(FRAGMENT_SIZE) * COLLATERAL
const Status = { Filling: 1n, Failed: 2n, Active: 3n }

/** The answer the holder builds off chain: the segment from the issue block's parent hash. */
async function answer (d: Deployment, deal: OpenedDeal, index: number, holder: string): Promise<Uint8Array> {
  const c = await d.market.getChallenge(deal.id, index)
  const parent = await d.ethers.provider.getBlock(Number(c.issuedBlock) - 1)
  if (!parent?.hash) throw new Error('no parent block')
  const fragment = deal.fragments[index] as Fragment
  const segment = targetedSegment(parent.hash, slotIdOf(deal.id, index), c.issuedBlock, holder, fragment.segments)
  expect(BigInt(segment)).to.equal(await d.market.challengeSegment(deal.id, index))
  return packedProof(fragment, segment)
}

describe('Market: targeted challenges', function () {
  describe('challengeSlot', function () {
    it('is free for the consumer', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d)
      const s1 = d.suppliers[0] as HardhatEthersSigner
      await expect(d.market.connect(d.consumer).challengeSlot(deal.id, 0)).to.emit(d.market, 'ChallengeIssued')
      const c = await d.market.getChallenge(deal.id, 0)
      expect([c.challenger, c.feePaid]).to.deep.equal([d.consumer.address, false])
      expect(await d.market.earnings(s1.address)).to.equal(0n)
    })
    it('charges the fee to anyone else', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d)
      const before = await d.token.balanceOf(d.other.address)
      await d.market.connect(d.other).challengeSlot(deal.id, 1)
      expect(await d.token.balanceOf(d.other.address)).to.equal(before - TEST_CONFIG.challengeFee)
      await expectConserved(d)
    })
    it('rejects a deal that is not active, a free slot and a second pending challenge', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const filling = await openDeal(d)
      await fill(d, filling, 0, d.suppliers[0] as HardhatEthersSigner)
      await expect(d.market.challengeSlot(filling.id, 0)).to.be.revertedWithCustomError(d.market, 'MarketDealNotActive').withArgs(filling.id, Status.Filling)
      const deal = await activeDeal(d)
      await d.market.connect(d.consumer).challengeSlot(deal.id, 0)
      await expect(d.market.connect(d.consumer).challengeSlot(deal.id, 0)).to.be.revertedWithCustomError(d.market, 'MarketChallengePending').withArgs(deal.id, 0)
      await expect(d.market.connect(d.consumer).challengeSlot(deal.id, 5)).to.be.revertedWithCustomError(d.market, 'MarketSlotOutOfRange').withArgs(deal.id, 5, 3)
    })
  })

  describe('answerChallenge', function () {
    it('clears the challenge and pays the fee to the holder', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d)
      const s2 = d.suppliers[1] as HardhatEthersSigner
      await d.market.connect(d.other).challengeSlot(deal.id, 1)
      const proof = await answer(d, deal, 1, s2.address)
      await expect(d.market.connect(s2).answerChallenge(deal.id, 1, proof)).to.emit(d.market, 'ChallengeAnswered').withArgs(deal.id, 1, s2.address, TEST_CONFIG.challengeFee)
      expect(await d.market.earnings(s2.address)).to.equal(TEST_CONFIG.challengeFee)
      expect((await d.market.getChallenge(deal.id, 1)).challenger).to.equal(ethers.ZeroAddress)
      await expectConserved(d)
    })
    it('rejects no challenge, a caller that is not the holder, a wrong proof and a late answer', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d)
      const s1 = d.suppliers[0] as HardhatEthersSigner
      const some = packedProof(deal.fragments[0] as Fragment, 0)
      await expect(d.market.connect(s1).answerChallenge(deal.id, 0, some)).to.be.revertedWithCustomError(d.market, 'MarketNoChallenge').withArgs(deal.id, 0)
      await d.market.connect(d.consumer).challengeSlot(deal.id, 0)
      const proof = await answer(d, deal, 0, s1.address)
      await expect(d.market.connect(d.other).answerChallenge(deal.id, 0, proof)).to.be.revertedWithCustomError(d.market, 'MarketNotHolder').withArgs(deal.id, 0, d.other.address)
      const segment = Number(await d.market.challengeSegment(deal.id, 0))
      const wrong = packedProof(deal.fragments[0] as Fragment, (segment + 1) % 3)
      await expect(d.market.connect(s1).answerChallenge(deal.id, 0, wrong)).to.be.revertedWithCustomError(d.market, 'MarketInvalidProof')
      await networkHelpers.mine(TEST_CONFIG.challengeWindow)
      const { issuedBlock } = await d.market.getChallenge(deal.id, 0)
      await expect(d.market.connect(s1).answerChallenge(deal.id, 0, proof)).to.be.revertedWithCustomError(d.market, 'MarketChallengeWindowClosed').withArgs(deal.id, 0, issuedBlock + TEST_CONFIG.challengeWindow)
    })
  })

  describe('expireChallenge', function () {
    it('slashes the slot collateral into the deal bounty, frees the slot and refunds the fee', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d)
      const s1 = d.suppliers[0] as HardhatEthersSigner
      await d.market.connect(d.other).challengeSlot(deal.id, 0)
      const { issuedBlock } = await d.market.getChallenge(deal.id, 0)
      await expect(d.market.expireChallenge(deal.id, 0)).to.be.revertedWithCustomError(d.market, 'MarketChallengeWindowOpen').withArgs(deal.id, 0, issuedBlock + TEST_CONFIG.challengeWindow)
      await networkHelpers.mine(TEST_CONFIG.challengeWindow)
      const reward = SLOT_COLLATERAL * TEST_CONFIG.markerRewardBps / 10_000n
      const tx = d.market.connect(d.treasury).expireChallenge(deal.id, 0)
      await expect(tx).to.emit(d.market, 'ChallengeExpired').withArgs(deal.id, 0, s1.address, d.treasury.address, SLOT_COLLATERAL, reward)
      await expect(tx).to.emit(d.market, 'SlotFreed').withArgs(deal.id, 0, s1.address, 0, SLOT_COLLATERAL)
      expect((await d.market.getSlot(deal.id, 0)).holder).to.equal(ethers.ZeroAddress)
      expect((await d.market.getDeal(deal.id)).bounty).to.equal(SLOT_COLLATERAL - reward)
      expect(await d.market.earnings(d.other.address)).to.equal(TEST_CONFIG.challengeFee)
      expect(await d.market.slotCount(s1.address)).to.equal(0n)
      const st = await d.staking.stakeOf(s1.address)
      expect([st.staked, st.locked]).to.deep.equal([100n * E18 - SLOT_COLLATERAL, 0n])
      await expectConserved(d)
      await expect(d.market.expireChallenge(deal.id, 0)).to.be.revertedWithCustomError(d.market, 'MarketNoChallenge').withArgs(deal.id, 0)
    })
    it('lets a repairer refill the freed slot for the bounty', async function () {
      const d = await networkHelpers.loadFixture(fixture)
      const deal = await activeDeal(d)
      await d.market.connect(d.consumer).challengeSlot(deal.id, 0)
      await networkHelpers.mine(TEST_CONFIG.challengeWindow + 1n)
      await d.market.expireChallenge(deal.id, 0)
      const bounty = (await d.market.getDeal(deal.id)).bounty
      const s4 = d.suppliers[3] as HardhatEthersSigner
      await expect(d.market.settleSlot(deal.id, 0)).to.be.revertedWithCustomError(d.market, 'MarketSlotNotFilled')
      await fill(d, deal, 0, s4)
      const paid = bounty * TEST_CONFIG.repairBountyBps / 10_000n
      expect(await d.market.earnings(s4.address)).to.equal(paid)
      expect((await d.market.getDeal(deal.id)).bounty).to.equal(bounty - paid)
      expect((await d.market.totals(s4.address)).bytesRepaired).to.equal(BigInt(FRAGMENT_SIZE))
      await expectConserved(d)
    })
  })
})
