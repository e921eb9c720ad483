/**
 * One deployment for the mocha tests: token, staking and market with short devnet-like periods,
 * funded consumers and registered, staked suppliers; plus helpers that drive fills and proofs the
 * way the node will (seed from a recent block, proofs from node/proofs).
 */
import { expect } from 'chai'
import type { HardhatEthers, HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/types'
import type { NetworkHelpers } from '@nomicfoundation/hardhat-network-helpers/types'
import type { BitDustToken, Market, Staking } from '../../../types/ethers-contracts/index.ts'
import type { IMarket } from '../../../types/ethers-contracts/market/Market.ts'
import { fillSegment, periodSamples, sampleSegment, slotIdOf, toHex } from '../../../node/proofs/challenge.ts'
import { makeFragment, packedProof, packedSamples } from './fragments.ts'
import type { Fragment } from './fragments.ts'

export const E18 = 10n ** 18n

export const TEST_CONFIG = {
  periodBlocks: 20n,
  proofWindow: 10n,
  samplesPerPeriod: 2n,
  fillDeadlineBlocks: 100n,
  challengeWindow: 10n,
  missesToJail: 3n,
  maxDurationPeriods: 1000n,
  missSlashBps: 500n,
  markerRewardBps: 1000n,
  repairBountyBps: 5000n,
  challengeFee: E18,
}
export const UNBONDING_BLOCKS = 30n
export const FRAGMENT_SIZE = 768 // 3 segments: exercises the zero-padded tree
export const PRICE = 10n ** 9n
export const COLLATERAL = 10n ** 12n
export const DURATION = 10n

export interface Deployment {
  ethers: HardhatEthers
  helpers: NetworkHelpers
  token: BitDustToken
  staking: Staking
  market: Market
  owner: HardhatEthersSigner
  consumer: HardhatEthersSigner
  suppliers: HardhatEthersSigner[]
  other: HardhatEthersSigner
  treasury: HardhatEthersSigner
}

export async function deploy (ethers: HardhatEthers, helpers: NetworkHelpers): Promise<Deployment> {
  const signers = await ethers.getSigners()
  const pick = (i: number): HardhatEthersSigner => {
    const s = signers[i]
    if (!s) throw new Error(`the simulated chain has no account ${i}`)
    return s
  }
  const [owner, consumer, other, treasury] = [pick(0), pick(1), pick(6), pick(7)]
  const suppliers = [pick(2), pick(3), pick(4), pick(5)]
  const token = await ethers.deployContract('BitDustToken', [owner.address, 1000n * E18])
  const staking = await ethers.deployContract('Staking', [await token.getAddress(), UNBONDING_BLOCKS])
  const market = await ethers.deployContract('Market', [await token.getAddress(), await staking.getAddress(), { ...TEST_CONFIG, treasury: treasury.address }])
  await staking.setMarket(await market.getAddress())
  for (const account of [consumer, other, ...suppliers]) {
    await token.mint(account.address, 1000n * E18)
    await token.connect(account).approve(await market.getAddress(), 2n ** 255n)
    await token.connect(account).approve(await staking.getAddress(), 2n ** 255n)
  }
  for (const [i, s] of suppliers.entries()) {
    await staking.connect(s).register(`0x0024080112${String(i).padStart(2, '0')}`, 10n ** 12n, PRICE)
    await staking.connect(s).stake(100n * E18)
  }
  return { ethers, helpers, token, staking, market, owner, consumer, suppliers, other, treasury }
}

export interface OpenedDeal {
  id: string
  fragments: Fragment[]
  params: IMarket.DealParamsStruct
}

let saltCounter = 0

export async function openDeal (d: Deployment, opts: { k?: number, m?: number, size?: number, duration?: bigint, price?: bigint, collateral?: bigint } = {}): Promise<OpenedDeal> {
  const k = opts.k ?? 2
  const m = opts.m ?? 1
  const size = opts.size ?? FRAGMENT_SIZE
  const params = {
    dataSlots: k,
    paritySlots: m,
    fragmentSize: size,
    durationPeriods: opts.duration ?? DURATION,
    pricePerBytePeriod: opts.price ?? PRICE,
    collateralPerByte: opts.collateral ?? COLLATERAL,
  }
  const salt = toHex(new Uint8Array(32).fill(++saltCounter & 255).map((v, i) => i === 0 ? saltCounter >> 8 : v))
  const fragments = Array.from({ length: k + m }, (_, i) => makeFragment(size, `${salt}:${i}`))
  const id = await d.market.dealId(d.consumer.address, salt)
  await d.market.connect(d.consumer).openDeal(params, salt, fragments.map((f) => f.root))
  return { id, fragments, params }
}

/** Fill proof for `supplier` using the latest block as seed (the next transaction's block - 1). */
export async function fillProof (d: Deployment, deal: OpenedDeal, index: number, supplier: string): Promise<{ seedBlock: number, proof: Uint8Array }> {
  const block = await d.ethers.provider.getBlock('latest')
  if (!block?.hash) throw new Error('no latest block')
  const fragment = deal.fragments[index] as Fragment
  const segment = fillSegment(block.hash, supplier, deal.id, index, fragment.segments)
  return { seedBlock: block.number, proof: packedProof(fragment, segment) }
}

export async function fill (d: Deployment, deal: OpenedDeal, index: number, supplier: HardhatEthersSigner): Promise<void> {
  const { seedBlock, proof } = await fillProof(d, deal, index, supplier.address)
  await d.market.connect(supplier).fillSlot(deal.id, index, seedBlock, proof)
}

/** Opens a deal and fills slot i with supplier i. */
export async function activeDeal (d: Deployment, opts: Parameters<typeof openDeal>[1] = {}): Promise<OpenedDeal> {
  const deal = await openDeal(d, opts)
  const slots = (opts.k ?? 2) + (opts.m ?? 1)
  for (let i = 0; i < slots; i++) await fill(d, deal, i, d.suppliers[i % d.suppliers.length] as HardhatEthersSigner)
  return deal
}

/** Mines so that the next transaction lands `offset` blocks after the start block of `period`. */
export async function gotoPeriod (d: Deployment, period: bigint, offset = 1n): Promise<void> {
  const start = await d.market.periodStartBlock(period)
  const target = start + offset - 1n // the next tx is mined in the block after the current one
  const now = BigInt(await d.ethers.provider.getBlockNumber())
  if (target > now) await d.helpers.mine(target - now)
}

export async function nextPeriod (d: Deployment, offset = 1n): Promise<bigint> {
  const p = (await d.market.currentPeriod()) + 1n
  await gotoPeriod(d, p, offset)
  return p
}

/** Builds a supplier's period proof the way the prover will: TS derivation over its slot set. */
export async function periodProof (d: Deployment, supplier: string, period: bigint, fragmentsBySlot: Map<string, Fragment>): Promise<Uint8Array> {
  // The seed is the start block's hash: readable only once a later block exists.
  const start = await d.market.periodStartBlock(period)
  if (BigInt(await d.ethers.provider.getBlockNumber()) <= start) await d.helpers.mine(1)
  const seed = await d.market.periodSeed(period)
  const n = Number(await d.market.slotCount(supplier))
  const samples = periodSamples(seed, supplier, period, Number(TEST_CONFIG.samplesPerPeriod), n)
  const picked = []
  for (const s of samples) {
    const sid = await d.market.slotAt(supplier, s.position)
    const fragment = fragmentsBySlot.get(sid)
    if (!fragment) throw new Error(`no fragment for slot ${sid}`)
    picked.push({ fragment, segment: sampleSegment(s.r, fragment.segments) })
  }
  return packedSamples(picked)
}

export function slotMap (deals: OpenedDeal[]): Map<string, Fragment> {
  const map = new Map<string, Fragment>()
  for (const deal of deals) deal.fragments.forEach((f, i) => map.set(toHex(slotIdOf(deal.id, i)), f))
  return map
}

export async function prove (d: Deployment, supplier: HardhatEthersSigner, period: bigint, deals: OpenedDeal[]): Promise<void> {
  const proof = await periodProof(d, supplier.address, period, slotMap(deals))
  await d.market.connect(supplier).provePeriod(period, proof)
}

/** Token conservation: what each contract holds equals what it owes. */
export async function conservation (d: Deployment): Promise<{ market: [bigint, bigint], staking: [bigint, bigint] }> {
  return {
    market: [await d.token.balanceOf(await d.market.getAddress()), (await d.market.totalEscrow()) + (await d.market.totalUnclaimed())],
    staking: [await d.token.balanceOf(await d.staking.getAddress()), await d.staking.totalStaked()],
  }
}

/** Asserts token conservation (see conservation()). */
export async function expectConserved (d: Deployment): Promise<void> {
  const c = await conservation(d)
  expect(c.market[0]).to.equal(c.market[1])
  expect(c.staking[0]).to.equal(c.staking[1])
}

/** An EIP-2612 permit for the BitDust token at `token`, signed by `owner` (a far deadline). */
export async function signPermit (ethers: HardhatEthers, owner: HardhatEthersSigner, token: string, spender: string, value: bigint, nonce = 0n): Promise<{ deadline: bigint, v: number, r: string, s: string }> {
  const { chainId } = await ethers.provider.getNetwork()
  const deadline = 2n ** 40n
  const sig = await owner.signTypedData(
    { name: 'BitDust', version: '1', chainId, verifyingContract: token },
    { Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] },
    { owner: owner.address, spender, value, nonce, deadline },
  )
  const { v, r, s } = ethers.Signature.from(sig)
  return { deadline, v, r, s }
}
