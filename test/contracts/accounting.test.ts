/**
 * Every per-account total the market keeps can be rebuilt from its events alone (what a block
 * explorer or the audit command does), after a scenario that goes through every money path.
 */
import { expect } from 'chai'
import { network } from 'hardhat'
import { TEST_CONFIG, activeDeal, conservation, deploy, fill, gotoPeriod, nextPeriod, prove } from './helpers/fixture.ts'
import { packedProof } from './helpers/fragments.ts'
import type { Fragment } from './helpers/fragments.ts'
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/types'

const { ethers, networkHelpers } = await network.create()
const fixture = async () => await deploy(ethers, networkHelpers)

interface Rebuilt { earned: bigint, unclaimed: bigint, claimed: bigint, paid: bigint, refunded: bigint, slashed: bigint, bytePeriodsStored: bigint, bytesRepaired: bigint, proofsGiven: bigint, proofsMissed: bigint }

describe('Market: accounting from events', function () {
  it('rebuilds every account statement from events alone', async function () {
    const d = await networkHelpers.loadFixture(fixture)
    const [s1, s2, s3, s4] = d.suppliers as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner]
    const a = await activeDeal(d, { duration: 6n })
    const b = await activeDeal(d, { duration: 6n })
    const { startPeriod } = await d.market.getDeal(a.id)
    // Period 1: everyone proves. Period 2: s1 misses and is marked.
    await gotoPeriod(d, startPeriod)
    for (const s of [s1, s2, s3]) await prove(d, s, startPeriod, [a, b])
    await gotoPeriod(d, startPeriod + 1n)
    for (const s of [s2, s3]) await prove(d, s, startPeriod + 1n, [a, b])
    await gotoPeriod(d, startPeriod + 1n, TEST_CONFIG.proofWindow + 1n)
    await d.market.connect(d.other).markMissed(s1.address, startPeriod + 1n)
    // A paid challenge answered, a paid challenge left to expire, then a repair of that slot.
    await d.market.connect(d.other).challengeSlot(a.id, 1)
    const seg = Number(await d.market.challengeSegment(a.id, 1))
    await d.market.connect(s2).answerChallenge(a.id, 1, packedProof(a.fragments[1] as Fragment, seg))
    await d.market.connect(d.other).challengeSlot(b.id, 2)
    await networkHelpers.mine(TEST_CONFIG.challengeWindow + 1n)
    await d.market.connect(d.treasury).expireChallenge(b.id, 2)
    await fill(d, b, 2, s4)
    // Settle, cancel one deal, let the other end, release and finalize both, claim.
    await nextPeriod(d)
    await d.market.settleSlot(a.id, 0)
    await d.market.connect(d.consumer).cancelDeal(b.id)
    await gotoPeriod(d, (await d.market.getDeal(a.id)).endPeriod)
    for (const deal of [a, b]) {
      for (let i = 0; i < 3; i++) await d.market.releaseSlot(deal.id, i)
      await d.market.finalizeDeal(deal.id)
    }
    for (const s of [s1, s2, d.other]) await d.market.connect(s).claim()

    const rebuilt = new Map<string, Rebuilt>()
    const of = (acct: string): Rebuilt => {
      let r = rebuilt.get(acct)
      if (!r) rebuilt.set(acct, r = { earned: 0n, unclaimed: 0n, claimed: 0n, paid: 0n, refunded: 0n, slashed: 0n, bytePeriodsStored: 0n, bytesRepaired: 0n, proofsGiven: 0n, proofsMissed: 0n })
      return r
    }
    const m = d.market
    const q = async (name: string) => await m.queryFilter(m.getEvent(name as never) as never)
    for (const e of await q('EarningsCredited')) {
      const [account, amount, , reason] = (e as unknown as { args: [string, bigint, string, string] }).args
      of(account).unclaimed += amount
      if (reason !== 'challenge-fee-refund') of(account).earned += amount
    }
    for (const e of await q('EarningsClaimed')) { const [acct, amount] = (e as unknown as { args: [string, bigint] }).args; of(acct).claimed += amount; of(acct).unclaimed -= amount }
    for (const e of await q('ConsumerPaid')) { const [acct, , amount] = (e as unknown as { args: [string, string, bigint] }).args; of(acct).paid += amount }
    for (const e of await q('ConsumerRefunded')) { const [acct, , amount] = (e as unknown as { args: [string, string, bigint] }).args; of(acct).refunded += amount }
    for (const e of await q('SupplierSlashed')) { const [acct, , amount] = (e as unknown as { args: [string, string, bigint] }).args; of(acct).slashed += amount }
    for (const e of await q('SlotSettled')) { const args = (e as unknown as { args: [string, bigint, string, bigint, bigint, bigint] }).args; of(args[2]).bytePeriodsStored += args[5] }
    for (const e of await q('RepairBountyPaid')) { const args = (e as unknown as { args: [string, bigint, string, bigint, bigint] }).args; of(args[2]).bytesRepaired += args[4] }
    for (const e of await q('PeriodProven')) { of((e as unknown as { args: [string] }).args[0]).proofsGiven += 1n }
    for (const e of await q('PeriodMissed')) { of((e as unknown as { args: [string] }).args[0]).proofsMissed += 1n }

    const accounts = [d.consumer, d.other, d.treasury, s1, s2, s3, s4]
    for (const acct of accounts) {
      const t = await m.totals(acct.address)
      const r = of(acct.address)
      expect({ earned: t.earned, claimed: t.claimed, paid: t.paid, refunded: t.refunded, slashed: t.slashed, bytePeriodsStored: t.bytePeriodsStored, bytesRepaired: t.bytesRepaired, proofsGiven: t.proofsGiven, proofsMissed: t.proofsMissed },
        acct.address).to.deep.equal({ earned: r.earned, claimed: r.claimed, paid: r.paid, refunded: r.refunded, slashed: r.slashed, bytePeriodsStored: r.bytePeriodsStored, bytesRepaired: r.bytesRepaired, proofsGiven: r.proofsGiven, proofsMissed: r.proofsMissed })
      expect(await m.earnings(acct.address)).to.equal(r.unclaimed)
    }
    // Every path was exercised, and the contracts still hold exactly what they owe.
    expect(of(s4.address).bytesRepaired).to.be.greaterThan(0n)
    expect(of(s1.address).proofsMissed).to.equal(1n)
    expect(of(d.other.address).refunded).to.be.greaterThan(0n)
    const c = await conservation(d)
    expect(c.market[0]).to.equal(c.market[1])
    expect(c.staking[0]).to.equal(c.staking[1])
    expect(await m.totalEscrow()).to.equal(0n)
  })
})
