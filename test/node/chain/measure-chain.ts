/**
 * Measures gas per operation and call latency on a local chain with the real contracts:
 * `npx node test/node/chain/measure-chain.ts` (results go in docs/chain.md; not a test).
 */
import { numberToHex } from 'viem'
import { performance } from 'node:perf_hooks'
import { startTestNetwork, randomFragment, packedProof, concat, salt } from './helpers/network.ts'
import { DEVNET_PARAMS, DUST } from '../../../node/chain/deploy-params.ts'
import { audit } from '../../../node/chain/audit.ts'
import { statement } from '../../../node/chain/ledger.ts'

const t0 = performance.now()
const net = await startTestNetwork(DEVNET_PARAMS, 0)
const tStart = performance.now() - t0
const rows: string[] = []
const g = (name: string, r: { gasUsed: bigint }) => rows.push(`${name}: ${r.gasUsed}`)
const mine = async (n: bigint) => { await net.chain.provider.request({ method: 'hardhat_mine', params: [numberToHex(n)] }) }
try {
  const A = net.supplierA, B = net.supplierB
  g('register', await A.staking.register({ peerId: `0x0024${'11'.repeat(34)}`, capacity: 10n ** 12n, pricePerBytePeriod: 1n }))
  await B.staking.register({ peerId: `0x0024${'22'.repeat(34)}`, capacity: 10n ** 12n, pricePerBytePeriod: 1n })
  g('stakeWithPermit', await A.staking.stake(1000n * DUST))
  const appr = await B.token.approve(B.staking.address, 1000n * DUST); g('approve', appr)
  g('stake (after approve)', await B.staking.stake(1000n * DUST, { usePermit: false }))
  const segs = 4096 // 1 MiB fragments
  const frags = [randomFragment(segs), randomFragment(segs)]
  const { receipt } = await net.consumer.market.openDeal({ dataSlots: 1, paritySlots: 1, fragmentSize: BigInt(segs * 256), durationPeriods: 100, pricePerBytePeriod: 1n, collateralPerByte: 1n }, salt(), frags.map(f => f.root))
  g('openDealWithPermit (2 slots)', receipt)
  // six-slot deal
  const f6 = Array.from({ length: 6 }, () => randomFragment(4))
  g('openDealWithPermit (6 slots)', (await net.consumer.market.openDeal({ dataSlots: 4, paritySlots: 2, fragmentSize: 1024n, durationPeriods: 100, pricePerBytePeriod: 1n, collateralPerByte: 1n }, salt(), f6.map(f => f.root))).receipt)
  const { dealId } = { dealId: (await net.consumer.getEvents({ eventNames: ['DealOpened'] }))[0]!.args.dealId as `0x${string}` }
  g('fillSlot (1 MiB fragment, depth 12)', await A.market.fill(dealId, 0, s => packedProof(frags[0]!, s)))
  g('fillSlot, last slot (deal starts)', await B.market.fill(dealId, 1, s => packedProof(frags[1]!, s)))
  const period = await A.market.currentPeriod() + 1n
  await mine(await A.market.periodStartBlock(period) + 1n - await A.blockNumber())
  const { slotIds, segments } = await A.market.periodSamples(A.address!, period)
  g(`provePeriod (${slotIds.length} samples, depth 12)`, await A.market.provePeriod(period, concat(segments.map(s => packedProof(frags[0]!, Number(s))))))
  await mine(DEVNET_PARAMS.market.proofWindow)
  g('markMissed', await net.consumer.market.markMissed(B.address!, period))
  g('challengeSlot (consumer)', await net.consumer.market.challengeSlot(dealId, 0))
  g('answerChallenge (depth 12)', await A.market.answerChallenge(dealId, 0, packedProof(frags[0]!, Number(await A.market.challengeSegment(dealId, 0)))))
  await mine(DEVNET_PARAMS.market.periodBlocks)
  g('settleSlot', await A.market.settleSlot(dealId, 0))
  g('claim', await A.market.claim())
  // latency: reference eth_blockNumber vs a full send (simulate, estimate, sign, send, receipt)
  const N = 30
  let t = performance.now(); for (let i = 0; i < N; i++) await A.blockNumber(); const ref = (performance.now() - t) / N
  t = performance.now(); for (let i = 0; i < N; i++) await A.token.balanceOf(); const read = (performance.now() - t) / N
  t = performance.now(); for (let i = 0; i < N; i++) await A.token.transfer(B.address!, 1n); const send = (performance.now() - t) / N
  // grow events then audit
  for (let i = 0; i < 100; i++) await net.consumer.token.faucet()
  t = performance.now(); const rep = await audit(net.consumer); const ta = performance.now() - t
  t = performance.now(); await statement(net.consumer, net.consumer.address!); const ts = performance.now() - t
  console.log(rows.join('\n'))
  console.log(`network start (chain+deploy+fund): ${tStart.toFixed(0)} ms`)
  console.log(`eth_blockNumber ${ref.toFixed(2)} ms, read ${read.toFixed(2)} ms, send+receipt ${send.toFixed(2)} ms`)
  console.log(`audit: ${rep.events} events ${rep.accounts} accounts ${ta.toFixed(0)} ms, diffs ${rep.differences.length}; statement ${ts.toFixed(0)} ms`)
} finally { await net.stop() }
