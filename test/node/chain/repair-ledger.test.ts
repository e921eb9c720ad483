/**
 * The failure paths on the real contracts, and the ledger and audit after them: an unanswered
 * challenge frees a slot, a third supplier repairs it for the bounty, the consumer cancels and the
 * deal is wound up. Every account must still add up from events alone.
 */
import { expect } from 'chai'
import { numberToHex } from 'viem'
import type { Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { audit, auditToJson } from '../../../node/chain/audit.ts'
import type { BitDustChain } from '../../../node/chain/client.ts'
import { connect } from '../../../node/chain/connect.ts'
import { fundAccounts } from '../../../node/chain/deploy.ts'
import { DEVNET_PARAMS, DUST } from '../../../node/chain/deploy-params.ts'
import { statement } from '../../../node/chain/ledger.ts'
import type { DealParams } from '../../../node/chain/types.ts'
import { KEYS, packedProof, randomFragment, salt, startTestNetwork } from './helpers/network.ts'
import type { Fragment, TestNetwork } from './helpers/network.ts'

async function rejection (p: Promise<unknown>): Promise<Error & Record<string, any>> {
  try { await p } catch (err) { return err as Error & Record<string, any> }
  throw new Error('expected a rejection')
}

describe('chain: repair, cancellation, and the books afterwards', function () {
  this.timeout(120_000)
  let net: TestNetwork
  let repairer: BitDustChain
  let fragments: Fragment[]
  let dealId: Hex
  const params: DealParams = { dataSlots: 1, paritySlots: 1, fragmentSize: 2048n, durationPeriods: 20, pricePerBytePeriod: 10n ** 12n, collateralPerByte: 10n ** 13n }
  const fee = DEVNET_PARAMS.market.challengeFee
  const mine = async (blocks: bigint): Promise<void> => {
    await net.chain.provider.request({ method: 'hardhat_mine', params: [numberToHex(blocks)] })
  }

  before(async function () {
    net = await startTestNetwork(DEVNET_PARAMS, 0)
    const key = generatePrivateKey()
    repairer = net.client(key)
    const { publicClient, walletClient } = connect({ rpcUrl: net.chain.rpcUrl, chainId: net.chain.chainId, privateKey: KEYS[0] })
    await fundAccounts({ publicClient, walletClient: walletClient!, token: net.deployment.contracts.token, accounts: [repairer.address!], eth: 10n ** 18n, tokens: 10_000n * DUST })
    for (const s of [net.supplierA, net.supplierB, repairer]) {
      await s.staking.register({ peerId: '0x0024aa', capacity: 10n ** 9n, pricePerBytePeriod: 10n ** 12n })
      await s.staking.stake(1000n * DUST)
    }
    fragments = [randomFragment(8), randomFragment(8)]
    dealId = (await net.consumer.market.openDeal(params, salt(), fragments.map((f) => f.root))).dealId
    await net.supplierA.market.fill(dealId, 0, (seg) => packedProof(fragments[0]!, seg))
    await net.supplierB.market.fill(dealId, 1, (seg) => packedProof(fragments[1]!, seg))
  })
  after(async function () { await net?.stop() })

  it('frees a slot whose holder leaves a paid challenge unanswered, and refunds the fee', async function () {
    await repairer.market.challengeSlot(dealId, 0) // not the consumer: pays the fee (approved by the client)
    const open = await rejection(net.consumer.market.expireChallenge(dealId, 0))
    expect(open.errorName).to.equal('MarketChallengeWindowOpen')
    await mine(DEVNET_PARAMS.market.challengeWindow + 1n)
    const late = await rejection(net.supplierA.market.answerChallenge(dealId, 0, packedProof(fragments[0]!, Number(await net.supplierA.market.challengeSegment(dealId, 0)))))
    expect(late.errorName).to.equal('MarketChallengeWindowClosed')
    await net.consumer.market.expireChallenge(dealId, 0)
    const slot = await net.consumer.market.getSlot(dealId, 0)
    expect(slot.holder).to.equal('0x0000000000000000000000000000000000000000')
    expect((await net.consumer.market.getDeal(dealId)).bounty).to.be.greaterThan(0n)
    expect(await repairer.market.earnings()).to.equal(fee) // the refunded fee waits to be claimed
  })

  it('lets another supplier repair the freed slot with a proof and pays it the bounty', async function () {
    await repairer.market.fill(dealId, 0, (seg) => packedProof(fragments[0]!, seg))
    expect((await repairer.market.getSlot(dealId, 0)).holder).to.equal(repairer.address)
    const totals = await repairer.market.totals()
    expect(totals.bytesRepaired).to.equal(2048n)
    const state = await repairer.market.supplierState()
    expect(state.bytesRepaired).to.equal(2048n)
    expect(state.slotCount).to.equal(1)
    expect(totals.refunded).to.equal(fee)
    expect(await repairer.market.earnings()).to.be.greaterThan(fee)
  })

  it('winds up a cancelled deal: slots released, the rest refunded to the consumer', async function () {
    // A paid challenge still pending when the slot is released is refunded to its challenger.
    await repairer.market.challengeSlot(dealId, 1)
    const other = await rejection(repairer.market.cancelDeal(dealId))
    expect(other.errorName).to.equal('MarketNotConsumer')
    await net.consumer.market.cancelDeal(dealId)
    expect(await net.consumer.market.dealStatus(dealId)).to.equal('Cancelled')
    const held = await rejection(net.consumer.market.finalizeDeal(dealId))
    expect(held.errorName).to.equal('MarketSlotsStillHeld')
    await net.consumer.market.releaseSlot(dealId, 0)
    await net.consumer.market.releaseSlot(dealId, 1)
    expect((await repairer.staking.stakeInfo()).locked).to.equal(0n)
    const before = await net.consumer.token.balanceOf()
    await net.consumer.market.finalizeDeal(dealId)
    expect(await net.consumer.market.dealStatus(dealId)).to.equal('Finalized')
    expect(await net.consumer.token.balanceOf()).to.be.greaterThan(before)
    expect((await repairer.market.totals()).refunded).to.equal(2n * fee)
    await repairer.market.claim()
  })

  it('states each account\'s history line by line, with blocks and transactions', async function () {
    const r = await statement(repairer, repairer.address!)
    const events = r.lines.map((l) => l.event)
    expect(events).to.include.members(['market.ConsumerPaid', 'market.ConsumerRefunded', 'market.SlotFilled', 'market.RepairBountyPaid', 'market.EarningsCredited', 'market.EarningsClaimed', 'market.SlotReleased'])
    const onChain = await repairer.market.totals()
    for (const k of ['bytesRepaired', 'earned', 'paid', 'refunded', 'claimed'] as const) expect(r.totals[k], k).to.equal(onChain[k])
    expect(r.totals.unclaimed).to.equal(0n)
    expect(r.lines.every((l) => l.block > 0n && /^0x[0-9a-f]{64}$/.test(l.txHash))).to.equal(true)
    const a = await statement(net.supplierA, net.supplierA.address!)
    expect(a.lines.map((l) => l.event)).to.include('market.SlotFreed')
    expect(a.totals.slashed).to.equal((await net.supplierA.market.totals()).slashed)
    expect(a.totals.slashed).to.be.greaterThan(0n)
    const c = await statement(net.consumer, net.consumer.address!)
    expect(c.totals.refunded).to.equal((await net.consumer.market.totals()).refunded)
  })

  it('audits every account without a difference after failures, repairs and refunds', async function () {
    const events: string[] = []
    const report = await audit(net.consumer, { onProgress: (e) => events.push(e.type) })
    expect(auditToJson(report).differences).to.deep.equal([])
    expect(events[0]).to.equal('audit:events')
    expect(events.filter((e) => e === 'audit:account')).to.have.length(report.accounts)
  })

  it('audits as of an earlier block', async function () {
    const report = await audit(net.consumer, { toBlock: BigInt(net.deployment.deployBlock) + 10n })
    expect(report.differences).to.deep.equal([])
    expect(report.toBlock).to.equal(BigInt(net.deployment.deployBlock) + 10n)
  })
})

describe('chain: a jailed supplier, its slot repaired, and the books afterwards', function () {
  this.timeout(120_000)
  let net: TestNetwork
  let fragments: Fragment[]
  let dealId: Hex
  const mine = async (blocks: bigint): Promise<void> => {
    await net.chain.provider.request({ method: 'hardhat_mine', params: [numberToHex(blocks)] })
  }

  before(async function () {
    net = await startTestNetwork(DEVNET_PARAMS, 0)
    for (const s of [net.supplierA, net.supplierB]) {
      await s.staking.register({ peerId: '0x0024cc', capacity: 10n ** 9n, pricePerBytePeriod: 1n })
      await s.staking.stake(1000n * DUST)
    }
    fragments = [randomFragment(4), randomFragment(4)]
    dealId = (await net.consumer.market.openDeal({ dataSlots: 1, paritySlots: 1, fragmentSize: 1024n, durationPeriods: 30, pricePerBytePeriod: 10n ** 12n, collateralPerByte: 10n ** 14n }, salt(), fragments.map((f) => f.root))).dealId
    await net.supplierA.market.fill(dealId, 0, (seg) => packedProof(fragments[0]!, seg))
    await net.supplierB.market.fill(dealId, 1, (seg) => packedProof(fragments[1]!, seg))
  })
  after(async function () { await net?.stop() })

  it('jails a supplier after missesToJail marked misses in a row', async function () {
    const first = BigInt((await net.consumer.market.getDeal(dealId)).startPeriod)
    for (let i = 0n; i < DEVNET_PARAMS.market.missesToJail; i++) {
      const period = first + i
      await mineTo(net, await net.consumer.market.periodStartBlock(period) + DEVNET_PARAMS.market.proofWindow + 1n)
      await net.deployer.market.markMissed(net.supplierB.address!, period)
    }
    const state = await net.supplierB.market.supplierState()
    expect(state.jailed).to.equal(true)
    expect(state.proofsMissed).to.equal(DEVNET_PARAMS.market.missesToJail)
    const again = await rejection(net.deployer.market.markMissed(net.supplierB.address!, first + DEVNET_PARAMS.market.missesToJail - 1n))
    expect(again.errorName).to.equal('MarketSupplierJailed')
  })

  it('lets another supplier take over a jailed supplier\'s slot (repair fill evicts it)', async function () {
    await net.supplierA.market.fill(dealId, 1, (seg) => packedProof(fragments[1]!, seg))
    expect((await net.consumer.market.getSlot(dealId, 1)).holder).to.equal(net.supplierA.address)
    const jailedFill = await rejection(net.supplierB.market.fill(dealId, 0, (seg) => packedProof(fragments[0]!, seg)))
    expect(jailedFill.errorName).to.equal('MarketSlotNotFree')
    const b = await statement(net.consumer, net.supplierB.address!)
    expect(b.lines.map((l) => l.detail)).to.satisfy((d: string[]) => d.some((x) => x.includes('HolderJailed')))
    expect((await statement(net.consumer, net.supplierA.address!)).totals.bytesRepaired).to.equal(1024n)
    await mine(1n)
  })

  it('audits every account without a difference', async function () {
    expect((await audit(net.deployer)).differences).to.deep.equal([])
  })
})

async function mineTo (net: TestNetwork, block: bigint): Promise<void> {
  const head = await net.deployer.blockNumber()
  if (block > head) await net.chain.provider.request({ method: 'hardhat_mine', params: [numberToHex(block - head)] })
}
