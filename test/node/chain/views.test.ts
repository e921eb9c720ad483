/**
 * The narrow views other modules take, checked twice: by the compiler against the interfaces those
 * modules declare, and by use on the real contracts.
 */
import { expect } from 'chai'
import { numberToHex } from 'viem'
import type { Hex } from 'viem'
import { DEVNET_PARAMS, DUST } from '../../../node/chain/deploy-params.ts'
import { keeperView, supplierView, uploadView, watchView } from '../../../node/chain/views.ts'
import type { SupplierChain } from '../../../node/supplier/types.ts'
import type { UploadChain } from '../../../node/consumer/upload.ts'
import type { WatchChain } from '../../../node/consumer/watch.ts'
import type { KeeperChain } from '../../../node/consumer/keeper.ts'
import type { StakeChecker } from '../../../node/p2p/discovery/offer-cache.ts'
import { concat, packedProof, randomFragment, startTestNetwork } from './helpers/network.ts'
import type { Fragment, TestNetwork } from './helpers/network.ts'

describe('chain: views for the supplier and consumer modules', function () {
  this.timeout(120_000)
  let net: TestNetwork
  let supplier: SupplierChain & ReturnType<typeof supplierView>
  let upload: UploadChain
  let watch: WatchChain
  let fragments: Fragment[]
  let dealId: Hex
  const mine = async (n: bigint): Promise<void> => { await net.chain.provider.request({ method: 'hardhat_mine', params: [numberToHex(n)] }) }

  before(async function () {
    net = await startTestNetwork(DEVNET_PARAMS, 0)
    supplier = supplierView(net.supplierA)
    upload = uploadView(net.consumer)
    watch = watchView(net.consumer)
    for (const s of [net.supplierA, net.supplierB]) {
      await s.staking.register({ peerId: '0x0024bb', capacity: 10n ** 9n, pricePerBytePeriod: 1n })
      await s.staking.stake(500n * DUST)
    }
    fragments = [randomFragment(2), randomFragment(2)]
  })
  after(async function () { await net?.stop() })

  it('is a StakeChecker for the p2p layer', async function () {
    const checker: StakeChecker = net.consumer
    expect(await checker.stakeOf(net.supplierA.address!)).to.equal(500n * DUST)
    expect(await checker.stakeOf(net.consumer.address!)).to.equal(0n)
  })

  it('opens a deal and reports its holders and deadline (upload view)', async function () {
    const salt = `0x${'5a'.repeat(32)}` as Hex
    dealId = await upload.openDeal({ k: 1, m: 1, fragmentSize: 512n, periods: 10, price: 10n ** 12n, collateralPerByte: 10n ** 12n }, fragments.map((f) => f.root), salt)
    expect(dealId).to.equal(upload.dealIdFor(salt))
    expect(await upload.slotHolders(dealId)).to.deep.equal([undefined, undefined])
    expect(await upload.deadlineBlock(dealId)).to.be.greaterThan(await upload.blockNumber())
  })

  it('fills slots, samples and proves periods (supplier view)', async function () {
    const head = await supplier.blockNumber()
    expect(await upload.fillsBetween(dealId, head + 1n, head)).to.deep.equal([]) // an empty range
    const ref = { dealId, index: 0 }
    expect(supplier.slotId(ref)).to.equal(await net.consumer.market.slotId(dealId, 0))
    const segment = await supplier.fillSegment(ref, head - 1n)
    await supplier.fillSlot(ref, head - 1n, packedProof(fragments[0]!, segment))
    await net.supplierB.market.fill(dealId, 1, (s) => packedProof(fragments[1]!, s))
    expect(await upload.slotHolders(dealId)).to.deep.equal([net.supplierA.address, net.supplierB.address])
    expect(await upload.slotHolders(dealId, [1])).to.deep.equal([undefined, net.supplierB.address]) // only slot 1 read
    // The same fills as events: each in its own block (automining), none of another deal.
    const filledB = await upload.blockNumber()
    expect(await upload.fillsBetween(dealId, head + 1n, filledB)).to.deep.equal([{ index: 0, holder: net.supplierA.address }, { index: 1, holder: net.supplierB.address }])
    expect(await upload.fillsBetween(dealId, filledB, filledB)).to.deep.equal([{ index: 1, holder: net.supplierB.address }])
    expect(await upload.fillsBetween(`0x${'00'.repeat(32)}`, head + 1n, filledB)).to.deep.equal([])
    const duty = await supplier.obligation()
    expect(duty.slots).to.equal(1)
    expect(duty.from).to.be.within(1n, await supplier.currentPeriod() + 1n) // from the period after its first fill
    const period = await supplier.currentPeriod() + 1n
    const window = await supplier.proofWindow(period)
    expect(window.closes - window.opens).to.equal(DEVNET_PARAMS.market.proofWindow - 1n)
    await mine(window.opens - await supplier.blockNumber())
    expect(await supplier.currentPeriod()).to.equal(period)
    const samples = await supplier.periodSamples(period)
    expect(samples).to.have.length(Number(DEVNET_PARAMS.market.samplesPerPeriod))
    expect(samples.every((s) => s.slotId === supplier.slotId(ref))).to.equal(true)
    await supplier.provePeriod(period, concat(samples.map((s) => packedProof(fragments[0]!, s.segment))))
    expect(await supplier.isProven(period)).to.equal(true)
    // The keeper's view: a proven period reads as proven, an owed one not proven as open, one
    // before the supplier's obligations or of an account without slots as not due (the contract
    // would refuse to mark those), and marking a proven one missed is refused (false).
    const keeper = keeperView(net.consumer)
    expect(await keeper.periodOutcome(supplier.address, period)).to.equal('proven')
    expect(await keeper.periodOutcome(supplier.address, period + 1n)).to.equal('open')
    expect(await keeper.periodOutcome(supplier.address, duty.from - 1n)).to.equal('not due')
    expect(await keeper.periodOutcome(net.consumer.address!, period)).to.equal('not due')
    // The watchtower's question: would a mark be taken?
    expect([await keeper.markable(supplier.address, period + 1n), await keeper.markable(supplier.address, period), await keeper.markable(net.consumer.address!, period)]).to.deep.equal([true, false, false])
    expect(await keeper.markMissed(supplier.address, period)).to.equal(false)
  })

  it('challenges a slot and sees the challenge from both sides (watch and supplier views)', async function () {
    expect(await watch.holderOf(dealId, 0)).to.equal(net.supplierA.address)
    expect(await watch.challengePending(dealId, 0)).to.equal(false)
    await watch.challengeSlot(dealId, 0)
    expect(await watch.challengePending(dealId, 0)).to.equal(true)
    const keeper: KeeperChain = keeperView(net.consumer)
    expect(await keeper.challenge(dealId, 0)).to.include({ challenger: net.consumer.address })
    // Too early to expire: the contract refuses, which the view reports as false.
    expect(await keeper.expireChallenge(dealId, 0)).to.equal(false)
    expect(await keeper.challengeWindow()).to.equal(DEVNET_PARAMS.market.challengeWindow)
    const open = await supplier.openChallenges()
    expect(open).to.have.length(1)
    expect(open[0]).to.include({ dealId, index: 0 })
    await supplier.answerChallenge({ dealId, index: 0 }, packedProof(fragments[0]!, open[0]!.segment))
    expect(await watch.challengePending(dealId, 0)).to.equal(false)
    expect(await supplier.openChallenges()).to.deep.equal([])
  })
})
