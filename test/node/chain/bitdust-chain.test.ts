/**
 * BitDustChain against a real local chain with the real contracts deployed by deploy.ts.
 * Blocks are mined on demand (no interval) so that periods and windows are deterministic.
 */
import { expect } from 'chai'
import { getAddress, numberToHex, pad, toEventSelector } from 'viem'
import type { Address, Hex } from 'viem'
import { audit } from '../../../node/chain/audit.ts'
import { bitDustAbis } from '../../../node/chain/abis.ts'
import { BitDustChain } from '../../../node/chain/client.ts'
import { connect } from '../../../node/chain/connect.ts'
import { deployBitDust } from '../../../node/chain/deploy.ts'
import { DEFAULT_PARAMS, DEVNET_PARAMS, DUST } from '../../../node/chain/deploy-params.ts'
import { eventTopics } from '../../../node/chain/events.ts'
import type { ChainEvent } from '../../../node/chain/events.ts'
import { EVENT_FIELDS, isEvent } from '../../../node/chain/event-types.ts'
import { statement, statementToJson } from '../../../node/chain/ledger.ts'
import { knownRevertNames } from '../../../node/chain/revert-messages.ts'
import type { DealParams } from '../../../node/chain/types.ts'
import { concat, KEYS, packedProof, randomFragment, salt, startTestNetwork } from './helpers/network.ts'
import type { Fragment, TestNetwork } from './helpers/network.ts'

async function rejection (p: Promise<unknown>): Promise<Error & Record<string, any>> {
  try { await p } catch (err) { return err as Error & Record<string, any> }
  throw new Error('expected a rejection')
}

describe('chain: BitDustChain on the real contracts', function () {
  this.timeout(120_000)
  let net: TestNetwork
  let fragments: Fragment[]
  let dealId: Hex
  const params: DealParams = { dataSlots: 1, paritySlots: 1, fragmentSize: 1024n, durationPeriods: 50, pricePerBytePeriod: 10n ** 12n, collateralPerByte: 10n ** 13n }

  const mine = async (blocks: number): Promise<void> => {
    await net.chain.provider.request({ method: 'hardhat_mine', params: [numberToHex(blocks)] })
  }
  const mineTo = async (block: bigint): Promise<void> => {
    const head = await net.deployer.blockNumber()
    if (block > head) await mine(Number(block - head))
  }
  /** Mines into `period` (at least) and one block past its start, so its seed is readable. */
  const enterPeriod = async (period: bigint): Promise<void> => {
    await mineTo(await net.deployer.market.periodStartBlock(period) + 1n)
  }
  /** The packed proofs for a supplier's samples of `period`. */
  const periodProofs = async (who: BitDustChain, period: bigint): Promise<Uint8Array> => {
    const { slotIds, segments } = await who.market.periodSamples(who.address!, period)
    const bySlot = new Map<string, Fragment>()
    for (let i = 0; i < fragments.length; i++) bySlot.set(await who.market.slotId(dealId, i), fragments[i]!)
    return concat(slotIds.map((sid, j) => packedProof(bySlot.get(sid)!, Number(segments[j]))))
  }

  before(async function () {
    net = await startTestNetwork(DEVNET_PARAMS, 0)
    fragments = [randomFragment(4), randomFragment(4)]
  })
  after(async function () { await net?.stop() })

  it('deploys the contracts with the devnet parameters and wires staking to the market', async function () {
    const { contracts, deployBlock } = net.deployment
    expect(deployBlock).to.be.greaterThan(0)
    const config = await net.deployer.market.config()
    expect(config.periodBlocks).to.equal(DEVNET_PARAMS.market.periodBlocks)
    expect(config.samplesPerPeriod).to.equal(DEVNET_PARAMS.market.samplesPerPeriod)
    expect(config.treasury).to.equal(net.deployer.address)
    const market = await net.deployer.tx.read<Address>({ address: contracts.staking, abi: net.deployer.abis.staking, functionName: 'market' })
    expect(market.toLowerCase()).to.equal(contracts.market.toLowerCase())
    expect(await net.deployer.staking.unbondingBlocks()).to.equal(DEVNET_PARAMS.staking.unbondingBlocks)
  })

  it('checks that the endpoint serves the profile\'s chain and contracts', async function () {
    await net.deployer.checkNetwork()
    const wrongChain = new BitDustChain({ rpcUrl: net.chain.rpcUrl, chainId: 1, contracts: net.deployment.contracts })
    expect((await rejection(wrongChain.checkNetwork())).name).to.equal('WrongChainError')
    const noCode = new BitDustChain({ rpcUrl: net.chain.rpcUrl, chainId: net.chain.chainId, contracts: { ...net.deployment.contracts, market: '0x000000000000000000000000000000000000dEaD' } })
    const err = await rejection(noCode.checkNetwork())
    expect(err.name).to.equal('NoContractError')
    expect(err.message).to.contain('npm run deploy')
    const { token, staking, market } = net.deployment.contracts
    const mixed = new BitDustChain({ rpcUrl: net.chain.rpcUrl, chainId: net.chain.chainId, contracts: { token: staking, staking: token, market } })
    const mismatch = await rejection(mixed.checkNetwork())
    expect(mismatch.name).to.equal('ContractsMismatchError')
    expect(mismatch.message.toLowerCase()).to.contain(token.toLowerCase())
    expect(token).to.equal(getAddress(token)) // checksummed in the deployment record
  })

  it('has a sentence for every custom error of the BitDust contracts', function () {
    const names = net.deployer.abis.market.concat(net.deployer.abis.staking, net.deployer.abis.token)
      .filter((i) => i.type === 'error').map((i) => (i as { name: string }).name)
    expect(names.length).to.be.greaterThan(30)
    expect(names.filter((n) => !knownRevertNames().includes(n))).to.deep.equal([])
  })

  it('types every event of the contracts with the ABI\'s field names', function () {
    const fromAbi = Object.fromEntries(net.deployer.abis.market.concat(net.deployer.abis.staking, net.deployer.abis.token)
      .filter((i) => i.type === 'event').map((i) => [(i as { name: string }).name, (i as unknown as { inputs: Array<{ name: string }> }).inputs.map((x) => x.name)]))
    const typed = Object.fromEntries(Object.entries(EVENT_FIELDS).map(([k, v]) => [k, [...v]]))
    expect(typed).to.deep.equal(fromAbi)
  })

  it('pays from the faucet on the devnet', async function () {
    const before = await net.consumer.token.balanceOf()
    await net.consumer.token.faucet()
    expect(await net.consumer.token.balanceOf()).to.equal(before + DEVNET_PARAMS.token.faucetAmount)
  })

  it('rejects the faucet where it is disabled with a decoded, readable revert', async function () {
    const { publicClient, walletClient } = connect({ rpcUrl: net.chain.rpcUrl, chainId: net.chain.chainId, privateKey: KEYS[0], pollIntervalMs: 50 })
    const other = await deployBitDust({ publicClient, walletClient: walletClient!, params: DEFAULT_PARAMS })
    const user = new BitDustChain({ rpcUrl: net.chain.rpcUrl, chainId: net.chain.chainId, contracts: other.contracts, privateKey: KEYS[1], pollIntervalMs: 50 })
    const err = await rejection(user.token.faucet())
    expect(err.name).to.equal('ContractRevertError')
    expect(err.errorName).to.equal('TokenFaucetDisabled')
    expect(err.message).to.contain('faucet is disabled')
  })

  it('registers suppliers and stakes with a permit or with an approval', async function () {
    const stake = 1000n * DUST
    await net.supplierA.staking.register({ peerId: new Uint8Array([0x00, 0x24, 1, 2, 3]), capacity: 10n ** 9n, pricePerBytePeriod: 10n ** 12n })
    await net.supplierB.staking.register({ peerId: '0x002404050607', capacity: 10n ** 9n, pricePerBytePeriod: 10n ** 12n })
    await net.supplierA.staking.stake(stake)
    await net.supplierB.staking.stake(stake, { usePermit: false })
    expect(await net.supplierA.stakeOf(net.supplierA.address!)).to.equal(stake)
    expect(await net.consumer.stakeOf(net.supplierB.address!)).to.equal(stake)
    expect(await net.supplierA.staking.isRegistered()).to.equal(true)
    expect((await net.supplierB.staking.supplier()).peerId).to.equal('0x002404050607')
  })

  it('refuses to unbond stake the account does not have, with the contract\'s reason', async function () {
    const err = await rejection(net.consumer.staking.requestUnbond(1n))
    expect(err.name).to.equal('ContractRevertError')
    expect(err.errorName).to.equal('StakingInsufficientStake')
    expect(err.args[0]).to.equal(net.consumer.address)
  })

  it('unbonds, and withdraws only after the delay', async function () {
    const a = net.supplierA
    await a.staking.stake(10n * DUST)
    await a.staking.requestUnbond(10n * DUST)
    expect(await a.stakeOf(a.address!)).to.equal(1000n * DUST)
    const early = await rejection(a.staking.withdraw())
    expect(early.errorName).to.equal('StakingStillBonded')
    expect(early.message).to.match(/withdraw after that block/)
    await mine(Number(DEVNET_PARAMS.staking.unbondingBlocks))
    const before = await a.token.balanceOf()
    await a.staking.withdraw()
    expect(await a.token.balanceOf()).to.equal(before + 10n * DUST)
    expect((await a.staking.stakeInfo()).staked).to.equal(1000n * DUST)
  })

  it('opens a deal with a permit and fills its slots with real Merkle proofs', async function () {
    const before = await net.consumer.token.balanceOf()
    const opened = await net.consumer.market.openDeal(params, salt(), fragments.map((f) => f.root))
    dealId = opened.dealId
    expect(await net.consumer.token.balanceOf()).to.equal(before - 2n * 1024n * 10n ** 12n * 50n)
    expect(await net.consumer.market.dealStatus(dealId)).to.equal('Filling')
    // A proof of the wrong fragment is refused with the contract's reason.
    const wrong = await rejection(net.supplierA.market.fill(dealId, 0, (segment) => packedProof(fragments[1]!, segment)))
    expect(wrong.errorName).to.equal('MarketInvalidProof')
    expect(wrong.message).to.contain('does not match the slot\'s Merkle root')
    await net.supplierA.market.fill(dealId, 0, (segment) => packedProof(fragments[0]!, segment))
    // A proof that takes longer than the seed lives (64 blocks) is built again from a new seed.
    const segments: number[] = []
    await net.supplierB.market.fill(dealId, 1, async (segment) => {
      segments.push(segment)
      if (segments.length === 1) await mine(70)
      return packedProof(fragments[1]!, segment)
    })
    expect(segments).to.have.length(2)
    expect(await net.consumer.market.dealStatus(dealId)).to.equal('Active')
    const slot = await net.consumer.market.getSlot(dealId, 1)
    expect(slot.holder).to.equal(net.supplierB.address)
    expect(slot.segments).to.equal(4)
    expect((await net.supplierA.staking.stakeInfo()).locked).to.equal(1024n * 10n ** 13n)
    expect(await net.supplierA.market.slotsOf()).to.deep.equal([await net.supplierA.market.slotId(dealId, 0)])
    const taken = await rejection(net.supplierB.market.fill(dealId, 0, (segment) => packedProof(fragments[0]!, segment)))
    expect(taken.errorName).to.equal('MarketSlotNotFree')
    expect(taken.message).to.contain('is held by')
  })

  it('asks the endpoint only for the named events, and only for those with the indexed values asked for', async function () {
    const all = await net.consumer.getEvents({ contracts: ['market'] })
    expect(all.filter((e) => e.eventName !== 'SlotFilled')).not.to.have.length(0)
    const filled = await net.consumer.getEvents({ contracts: ['market'], eventNames: ['SlotFilled'] })
    expect(filled.map((e) => Number(e.args.index)).sort()).to.deep.equal([0, 1])
    const byB = await net.consumer.getEvents({ contracts: ['market'], eventNames: ['SlotFilled'], where: { supplier: net.supplierB.address } })
    expect(byB.map((e) => [e.eventName, e.args.supplier, Number(e.args.index)])).to.deep.equal([['SlotFilled', net.supplierB.address, 1]])
    const mixed = await net.consumer.getEvents({ contracts: ['market'], eventNames: ['DealOpened', 'SlotFilled'], where: { dealId } })
    expect(mixed.map((e) => e.eventName)).to.deep.equal(['DealOpened', 'SlotFilled', 'SlotFilled'])
    expect(await net.consumer.getEvents({ contracts: ['market'], eventNames: ['DealOpened'], where: { consumer: net.supplierA.address } })).to.have.length(0)
  })

  it('builds the topics of a filter from the ABIs, and refuses a filter on an argument the events do not index alike', function () {
    const abis = [bitDustAbis().market]
    const [topic0, ...rest] = eventTopics(abis, ['ChallengeIssued'], { supplier: net.supplierA.address })
    expect(topic0).to.deep.equal([toEventSelector('ChallengeIssued(bytes32,uint256,address,address,uint256,uint256,uint256)')])
    // dealId, challenger, supplier are indexed in that order; only the supplier is asked for.
    expect(rest).to.deep.equal([null, null, pad((net.supplierA.address as Address).toLowerCase() as Hex)])
    expect(() => eventTopics(abis, ['SlotFilled', 'SupplierJailed'], { supplier: net.supplierA.address })).to.throw(/does not index supplier where the others do/)
    expect(() => eventTopics(abis, ['DealStarted'], { supplier: net.supplierA.address })).to.throw(/does not index supplier/)
    expect(() => eventTopics(abis, ['NoSuchEvent'])).to.throw(/no event NoSuchEvent/)
  })

  it('proves periods with sampled proofs, settles and pays the suppliers', async function () {
    const deal = await net.consumer.market.getDeal(dealId)
    const first = BigInt(deal.startPeriod)
    for (const period of [first, first + 1n]) {
      await enterPeriod(period)
      expect(await net.supplierA.market.currentPeriod()).to.equal(period)
      expect(await net.supplierA.market.periodSeed(period)).to.not.equal(`0x${'0'.repeat(64)}`)
      for (const s of [net.supplierA, net.supplierB]) await s.market.provePeriod(period, await periodProofs(s, period))
      expect(await net.supplierA.market.isProven(net.supplierA.address!, period)).to.equal(true)
    }
    const again = await rejection(net.supplierA.market.provePeriod(first + 1n, await periodProofs(net.supplierA, first + 1n)))
    expect(again.errorName).to.equal('MarketAlreadyProven')
    await enterPeriod(first + 2n)
    const pay = 2n * 1024n * 10n ** 12n
    expect(await net.supplierA.market.pendingEarnings(dealId, 0)).to.equal(pay)
    await net.consumer.market.settleSlot(dealId, 0) // anyone may settle
    expect(await net.supplierA.market.earnings()).to.equal(pay)
    const before = await net.supplierA.token.balanceOf()
    await net.supplierA.market.claim()
    expect(await net.supplierA.token.balanceOf()).to.equal(before + pay)
    const nothing = await rejection(net.supplierA.market.claim())
    expect(nothing.errorName).to.equal('MarketNothingToClaim')
    expect((await net.supplierA.market.supplierState()).proofsGiven).to.equal(2n)
  })

  it('answers targeted challenges from the consumer and from others (who pay a fee)', async function () {
    await net.consumer.market.challengeSlot(dealId, 0)
    const segment = await net.supplierA.market.challengeSegment(dealId, 0)
    await net.supplierA.market.answerChallenge(dealId, 0, packedProof(fragments[0]!, Number(segment)))
    expect((await net.supplierA.market.getChallenge(dealId, 0)).challenger).to.equal('0x0000000000000000000000000000000000000000')

    const fee = DEVNET_PARAMS.market.challengeFee
    const earned = await net.supplierA.market.earnings()
    await net.supplierB.market.challengeSlot(dealId, 0)
    expect((await net.supplierA.market.getChallenge(dealId, 0)).feePaid).to.equal(true)
    const pending = await rejection(net.consumer.market.challengeSlot(dealId, 0))
    expect(pending.errorName).to.equal('MarketChallengePending')
    const seg = await net.supplierA.market.challengeSegment(dealId, 0)
    await net.supplierA.market.answerChallenge(dealId, 0, packedProof(fragments[0]!, Number(seg)))
    expect(await net.supplierA.market.earnings()).to.equal(earned + fee)
  })

  it('marks a missed period and slashes the supplier, not before the window closes', async function () {
    const period = await net.supplierA.market.currentPeriod() + 1n
    await enterPeriod(period)
    await net.supplierA.market.provePeriod(period, await periodProofs(net.supplierA, period))
    const early = await rejection(net.deployer.market.markMissed(net.supplierB.address!, period))
    expect(early.errorName).to.equal('MarketProofWindowOpen')
    await mineTo(await net.deployer.market.periodStartBlock(period) + DEVNET_PARAMS.market.proofWindow + 1n)
    const stake = (await net.supplierB.staking.stakeInfo()).staked
    await net.consumer.market.markMissed(net.supplierB.address!, period)
    expect(await net.consumer.market.isMarkedMissed(net.supplierB.address!, period)).to.equal(true)
    expect((await net.supplierB.market.supplierState()).proofsMissed).to.equal(1n)
    expect((await net.supplierB.staking.stakeInfo()).staked).to.be.lessThan(stake)
    expect(await net.consumer.market.earnings()).to.be.greaterThan(0n) // the marker's reward
  })

  it('watches events from a stored block and resumes from where it stopped', async function () {
    const seen: ChainEvent[] = []
    const w1 = net.consumer.watchEvents({ pollIntervalMs: 30, onEvents: (events) => { seen.push(...events) } })
    const deadline = Date.now() + 10_000
    while (!seen.some((e) => e.eventName === 'PeriodMissed') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 30))
    await w1.stop()
    expect(seen.map((e) => e.eventName)).to.include.members(['DealOpened', 'SlotFilled', 'DealStarted', 'PeriodProven', 'PeriodMissed'])
    const resumeAt = w1.nextBlock
    await net.consumer.token.faucet()
    const later: ChainEvent[] = []
    const w2 = net.consumer.watchEvents({ fromBlock: resumeAt, pollIntervalMs: 30, eventNames: ['FaucetDripped', 'DealOpened'], onEvents: (events) => { later.push(...events) } })
    while (later.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 30))
    await w2.stop()
    expect(later.map((e) => e.eventName)).to.deep.equal(['FaucetDripped'])
    const drip = later[0]!
    if (!isEvent(drip, 'FaucetDripped')) throw new Error('not a FaucetDripped event')
    expect(drip.args.account).to.equal(net.consumer.address)
    expect(drip.args.amount).to.equal(DEVNET_PARAMS.token.faucetAmount)
    // The typed shapes match what viem decodes.
    const filled = seen.find((e) => isEvent(e, 'SlotFilled'))
    expect(filled !== undefined && isEvent(filled, 'SlotFilled') && typeof filled.args.index === 'bigint' && filled.args.repair === false).to.equal(true)
    const opened = seen.find((e) => isEvent(e, 'DealOpened'))
    expect(opened !== undefined && isEvent(opened, 'DealOpened') && opened.args.params.dataSlots === 1 && opened.args.roots.length === 2).to.equal(true)
  })

  it('rebuilds statements from events that match the contracts\' totals', async function () {
    const s = await statement(net.consumer, net.consumer.address!)
    const paid = s.lines.filter((l) => l.event === 'market.ConsumerPaid')
    expect(paid.map((l) => l.amount)).to.deep.equal([2n * 1024n * 10n ** 12n * 50n])
    expect(paid[0]!.txHash).to.match(/^0x[0-9a-f]{64}$/)
    expect(s.lines.map((l) => l.detail)).to.include('sent to the market contract')
    expect(s.totals.paid).to.equal((await net.consumer.market.totals()).paid)
    const a = await statement(net.supplierA, net.supplierA.address!)
    const onChain = await net.supplierA.market.totals()
    expect(a.totals.proofsGiven).to.equal(3n)
    expect(a.totals.proofsGiven).to.equal(onChain.proofsGiven)
    expect(a.totals.bytePeriodsStored).to.equal(2n * 1024n)
    expect(a.totals.claimed).to.equal(onChain.claimed)
    expect(a.totals.earned).to.equal(onChain.earned)
    const b = await statement(net.consumer, net.supplierB.address!)
    expect(b.totals.proofsMissed).to.equal(1n)
    expect(b.totals.slashed).to.equal((await net.supplierB.market.totals()).slashed)
    const json = statementToJson(a)
    expect(JSON.parse(JSON.stringify(json)).lines.length).to.equal(a.lines.length)
  })

  it('audits every account without a difference', async function () {
    const report = await audit(net.consumer)
    expect(report.differences).to.deep.equal([])
    expect(report.accounts).to.be.greaterThan(5)
    expect(report.events).to.be.greaterThan(30)
  })

  it('reports a difference when the events do not add up to the contracts\' state', async function () {
    // Drop the one claim from the event stream: the audit must notice.
    const source = Object.create(net.consumer) as BitDustChain
    source.getEvents = async (o) => (await net.consumer.getEvents(o)).filter((e) => e.eventName !== 'EarningsClaimed')
    const report = await audit(source)
    const fields = report.differences.map((d) => `${d.account === 'total' ? 'total' : d.account.toLowerCase()}:${d.field}`)
    expect(fields).to.include(`${net.supplierA.address!.toLowerCase()}:claimed`)
    expect(fields).to.include(`${net.supplierA.address!.toLowerCase()}:unclaimed`)
    expect(fields).to.include('total:totalUnclaimed (Σ earnings)')
  })

  it('keeps watching through an endpoint outage, reporting the failures', async function () {
    const seen: ChainEvent[] = []
    const errors: Error[] = []
    const from = await net.consumer.blockNumber() + 1n
    const w = net.consumer.watchEvents({ fromBlock: from, pollIntervalMs: 30, onEvents: (events) => { seen.push(...events) }, onError: (err) => errors.push(err as Error) })
    try {
      await net.chain.pause()
      const deadline = Date.now() + 15_000
      while (errors.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 30))
      await net.chain.resume()
      await net.consumer.token.faucet()
      while (seen.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 30))
    } finally {
      await net.chain.resume()
      await w.stop()
    }
    expect(errors[0]?.name).to.equal('RpcUnavailableError')
    expect(seen.map((e) => e.eventName)).to.include('FaucetDripped')
  })

  it('keeps working across an endpoint restart, with the same client', async function () {
    await net.chain.pause()
    const reading = net.supplierA.staking.stakeInfo()
    await new Promise((resolve) => setTimeout(resolve, 300))
    await net.chain.resume()
    expect((await reading).staked).to.equal(1000n * DUST)
  })
})
