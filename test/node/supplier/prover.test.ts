import { expect } from 'chai'
import { randomBytes, createHash } from 'node:crypto'
import type { Hex } from 'viem'
import { SEGMENT_SIZE } from '../../../node/proofs/constants.ts'
import { buildLevels, createProof, hashLeaves, rootOf, treeDepth, verifyProof } from '../../../node/proofs/merkle.ts'
import { Prover, concatProofs, lookEvery } from '../../../node/supplier/prover.ts'
import type { Schedule, SlotRef, SupplierChain, SupplierStore } from '../../../node/supplier/types.ts'

const SEGMENTS = 8
const deal = ('0x' + 'ab'.repeat(32)) as Hex

function fragment (): { bytes: Buffer, levels: Uint8Array[][], root: Uint8Array } {
  const bytes = randomBytes(SEGMENT_SIZE * SEGMENTS)
  const levels = buildLevels(hashLeaves(bytes))
  return { bytes, levels, root: rootOf(levels) }
}

/** Splits a packed blob back into proofs and checks each against the slot's root, as the contract does. */
function checkPacked (blob: Uint8Array, expected: Array<{ root: Uint8Array, segment: number }>): boolean {
  const depth = treeDepth(SEGMENTS)
  const one = SEGMENT_SIZE + depth * 32
  if (blob.length !== one * expected.length) return false
  return expected.every((e, i) => {
    const at = i * one
    const segment = blob.subarray(at, at + SEGMENT_SIZE)
    const path = Array.from({ length: depth }, (_, d) => blob.subarray(at + SEGMENT_SIZE + d * 32, at + SEGMENT_SIZE + (d + 1) * 32))
    return verifyProof(e.root, SEGMENTS * SEGMENT_SIZE, { index: e.segment, segment, path })
  })
}

class FakeChain implements SupplierChain {
  readonly address = '0x0000000000000000000000000000000000000001' as const
  block = 100n
  period = 5n
  proven = new Set<bigint>()
  samples: Array<{ slotId: Hex, segment: number }> = []
  challenges: Array<SlotRef & { segment: number, deadlineBlock: bigint }> = []
  submitted: Array<{ period: bigint, proof: Uint8Array }> = []
  answers: Array<{ slot: SlotRef, proof: Uint8Array }> = []
  fills: Array<{ slot: SlotRef, seedBlock: bigint, proof: Uint8Array }> = []
  slots = 0
  failNextProve = false
  blockReads = 0
  async blockNumber (): Promise<bigint> { this.blockReads++; return this.block }
  challengeWindow = 8n
  sched: Schedule | undefined
  async schedule (): Promise<Schedule> { return this.sched ?? { genesisBlock: 0n, periodBlocks: 20n, proofWindow: 6n, challengeWindow: this.challengeWindow } }
  obligedFrom = 0n
  async obligation (): Promise<{ slots: number, from: bigint, lastProven?: bigint }> {
    const last = [...this.proven].reduce<bigint | undefined>((a, p) => a === undefined || p > a ? p : a, undefined)
    return { slots: this.slots, from: this.obligedFrom, ...(last !== undefined ? { lastProven: last } : {}) }
  }
  async periodSamples (): Promise<Array<{ slotId: Hex, segment: number }>> { return this.samples }
  async provePeriod (period: bigint, proof: Uint8Array): Promise<void> {
    if (this.failNextProve) { this.failNextProve = false; throw new Error('rpc down') }
    this.submitted.push({ period, proof }); this.proven.add(period)
  }
  async fillSegment (_slot: SlotRef, seedBlock: bigint): Promise<number> { return Number(seedBlock % BigInt(SEGMENTS)) }
  async fillSlot (slot: SlotRef, seedBlock: bigint, proof: Uint8Array): Promise<void> { this.fills.push({ slot, seedBlock, proof }); this.slots++ }
  challengeReads = 0
  failNextChallengeRead = false
  challengeHeads: Array<bigint | undefined> = []
  async openChallenges (head?: bigint): Promise<Array<SlotRef & { segment: number, deadlineBlock: bigint }>> {
    this.challengeReads++
    this.challengeHeads.push(head)
    if (this.failNextChallengeRead) { this.failNextChallengeRead = false; throw new Error('rpc down') }
    return this.challenges
  }
  async answerChallenge (slot: SlotRef, proof: Uint8Array): Promise<void> { this.answers.push({ slot, proof }) }
  slotId (slot: SlotRef): Hex { return ('0x' + createHash('sha256').update(`${slot.dealId}:${slot.index}`).digest('hex')) as Hex }
}

class FakeStore implements SupplierStore {
  frags = new Map<string, ReturnType<typeof fragment>>()
  add (slot: SlotRef): ReturnType<typeof fragment> { const f = fragment(); this.frags.set(`${slot.dealId}:${slot.index}`, f); return f }
  async has (slot: SlotRef): Promise<boolean> { return this.frags.has(`${slot.dealId}:${slot.index}`) }
  async proof (slot: SlotRef, segment: number): Promise<Uint8Array> {
    const f = this.frags.get(`${slot.dealId}:${slot.index}`)
    if (f === undefined) throw new Error('fragment lost')
    const p = createProof(f.bytes, f.levels, segment)
    return concatProofs([p.segment, ...p.path])
  }
}

describe('supplier/prover', () => {
  let chain: FakeChain
  let store: FakeStore
  let prover: Prover
  const slotA = { dealId: deal, index: 0 }
  const slotB = { dealId: deal, index: 3 }

  beforeEach(async () => {
    chain = new FakeChain()
    store = new FakeStore()
    prover = new Prover({ chain, store })
  })

  it('fills a slot with a proof of the segment the chain picks from the block before the head', async () => {
    const f = store.add(slotA)
    chain.block = 103n
    await prover.fill(slotA)
    expect(chain.fills).to.have.length(1)
    expect(chain.fills[0]?.seedBlock).to.equal(102n)
    expect(checkPacked(chain.fills[0]?.proof as Uint8Array, [{ root: f.root, segment: 102 % SEGMENTS }])).to.equal(true)
  })

  it('answers every sample of a period in one transaction, inside the window only', async () => {
    const a = store.add(slotA)
    const b = store.add(slotB)
    await prover.fill(slotA)
    await prover.fill(slotB)
    chain.samples = [{ slotId: chain.slotId(slotB), segment: 7 }, { slotId: chain.slotId(slotA), segment: 2 }]
    chain.block = 5n * 20n + 7n // window of period 5 closed
    expect(await prover.provePeriodIfDue()).to.equal(false)
    chain.block = 5n * 20n + 2n
    expect(await prover.provePeriodIfDue()).to.equal(true)
    expect(chain.submitted).to.have.length(1)
    expect(checkPacked(chain.submitted[0]?.proof as Uint8Array, [{ root: b.root, segment: 7 }, { root: a.root, segment: 2 }])).to.equal(true)
    expect(await prover.provePeriodIfDue()).to.equal(false) // already proven: no second transaction
    expect(chain.submitted).to.have.length(1)
    // Restarted within the same window: the chain's last proven period says it is done.
    const again = new Prover({ chain, store })
    again.track(slotA)
    again.track(slotB)
    expect(await again.provePeriodIfDue()).to.equal(false)
    expect(chain.submitted).to.have.length(1)
  })

  it('does not prove the period in which it took its first slot, which it is not obliged to prove', async () => {
    store.add(slotA)
    await prover.fill(slotA)
    chain.samples = [{ slotId: chain.slotId(slotA), segment: 1 }]
    chain.obligedFrom = 6n // filled during period 5
    chain.block = 5n * 20n + 2n
    expect(await prover.provePeriodIfDue()).to.equal(false)
    expect(chain.submitted).to.deep.equal([])
    chain.block = 6n * 20n + 2n
    expect(await prover.provePeriodIfDue()).to.equal(true)
    expect(chain.submitted.map((x) => x.period)).to.deep.equal([6n])
  })

  it('does nothing while it holds no slot', async () => {
    chain.block = 5n * 20n + 2n
    expect(await prover.provePeriodIfDue()).to.equal(false)
  })

  it('retries a failed proof on the next tick while the window is open', async () => {
    store.add(slotA)
    await prover.fill(slotA)
    chain.samples = [{ slotId: chain.slotId(slotA), segment: 1 }]
    chain.block = 5n * 20n + 2n
    chain.failNextProve = true
    const errors: string[] = []
    prover = new Prover({ chain, store }, { onError: (what) => errors.push(what) })
    prover.track(slotA)
    await prover.tick()
    expect(errors).to.deep.equal(['period proof'])
    await prover.tick()
    expect(chain.submitted).to.have.length(1)
  })

  it('reports a sample of an unknown slot instead of submitting a wrong proof', async () => {
    store.add(slotA)
    await prover.fill(slotA)
    chain.samples = [{ slotId: ('0x' + '00'.repeat(32)) as Hex, segment: 1 }]
    chain.block = 5n * 20n + 2n
    try {
      await prover.provePeriodIfDue()
      expect.fail('should throw')
    } catch (err) {
      expect((err as Error).message).to.match(/does not know/)
    }
    expect(chain.submitted).to.have.length(0)
  })

  it('answers a targeted challenge once, with the proof of the asked segment', async () => {
    const f = store.add(slotB)
    await prover.fill(slotB)
    chain.challenges = [{ ...slotB, segment: 5, deadlineBlock: 200n }]
    expect(await prover.answerChallenges()).to.equal(1)
    expect(await prover.answerChallenges()).to.equal(0)
    expect(checkPacked(chain.answers[0]?.proof as Uint8Array, [{ root: f.root, segment: 5 }])).to.equal(true)
  })

  it('looks for challenges four times per challenge window, and again at once after a failed look', async () => {
    store.add(slotB)
    await prover.fill(slotB)
    await prover.tick()
    const reads = chain.challengeReads
    await prover.tick()
    expect(chain.challengeReads).to.equal(reads) // same block: nothing can be new
    chain.challenges = [{ ...slotB, segment: 5, deadlineBlock: 200n }]
    chain.block++
    await prover.tick()
    expect(chain.challengeReads).to.equal(reads) // a window of 8 blocks: a look every 2
    chain.block++
    chain.failNextChallengeRead = true
    await prover.tick()
    expect(chain.answers).to.have.length(0)
    await prover.tick() // same block, but the last look failed: look again
    expect(chain.answers).to.have.length(1)
    expect(chain.challengeReads).to.equal(reads + 2)
    chain.block++
    await prover.tick()
    expect(chain.challengeReads).to.equal(reads + 2) // counted from the look that succeeded
  })

  it('looks at every block when the challenge window is shorter than four blocks', async () => {
    chain.challengeWindow = 3n
    store.add(slotB)
    await prover.fill(slotB)
    await prover.tick()
    const reads = chain.challengeReads
    for (let i = 0; i < 3; i++) { chain.block++; await prover.tick() }
    expect(chain.challengeReads).to.equal(reads + 3)
    expect(lookEvery({ genesisBlock: 0n, periodBlocks: 7_200n, proofWindow: 240n, challengeWindow: 240n })).to.equal(60n)
  })

  it('reads the block number once per tick: the challenge read is given the head the tick read', async () => {
    const slot = { dealId: ('0x' + 'cc'.repeat(32)) as Hex, index: 0 }
    store.add(slot)
    await prover.fill(slot)
    chain.block = 500n
    const before = chain.blockReads
    await prover.tick()
    expect(chain.blockReads - before).to.equal(1)
    expect(chain.challengeHeads.at(-1)).to.equal(500n)
  })

  it('sleeps between duties on a slow chain, yet proves every period and answers a challenge in its window', async () => {
    // A real chain's numbers: 12 s blocks, day-long periods, 240-block windows; a tick a second.
    chain.sched = { genesisBlock: 0n, periodBlocks: 7_200n, proofWindow: 240n, challengeWindow: 240n }
    let t = 0
    const errors: string[] = []
    prover = new Prover({ chain, store, now: () => t }, { onError: (w, e) => { errors.push(`${w}: ${e.message}`) } })
    store.add(slotA)
    chain.block = 7_000n
    await prover.fill(slotA)
    chain.samples = [{ slotId: chain.slotId(slotA), segment: 6 }]
    chain.blockReads = 0
    let answeredAt: bigint | undefined
    for (; t < 3_600_000; t += 1000) {
      chain.block = 7_000n + BigInt(Math.floor(t / 12_000))
      if (t === 1_800_000) chain.challenges = [{ ...slotA, segment: 5, deadlineBlock: chain.block + 240n }]
      await prover.tick()
      if (answeredAt === undefined && chain.answers.length > 0) answeredAt = chain.block
    }
    expect(errors).to.deep.equal([])
    // An hour of ticks: ~one block-number read a minute, not 3,600.
    expect(chain.blockReads).to.be.within(40, 150, `${chain.blockReads} reads`)
    expect(chain.submitted.map((x) => x.period)).to.deep.equal([1n]) // period 1 starts at block 7,200
    expect(answeredAt).to.not.equal(undefined)
    expect(Number((answeredAt as bigint) - (7_000n + 150n))).to.be.at.most(60) // within a look (60 blocks) of the challenge
  })

  it('does not sleep before it knows how fast blocks come', async () => {
    chain.sched = { genesisBlock: 0n, periodBlocks: 7_200n, proofWindow: 240n, challengeWindow: 240n }
    const t = 0
    prover = new Prover({ chain, store, now: () => t })
    chain.block = 7_000n
    chain.blockReads = 0
    await prover.tick()
    await prover.tick()
    expect(chain.blockReads).to.equal(2)
  })
})
