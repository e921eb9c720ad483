import { expect } from 'chai'
import type { Address, Hex } from 'viem'
import { ContractRevertError } from '../../../node/chain/errors.ts'
import type { Deal, DealStatusName, Slot } from '../../../node/chain/types.ts'
import { keptLine, leaveSlots, nextFreeLeave, settleStake } from '../../../node/supplier/leave.ts'
import type { LeaveChain, StakeChain } from '../../../node/supplier/leave.ts'
import type { StakeInfo } from '../../../node/chain/types.ts'
import type { SlotRef } from '../../../node/supplier/types.ts'

const ME = '0x00000000000000000000000000000000000000aa' as Address
const OTHER = '0x00000000000000000000000000000000000000bb' as Address
const id = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`

/** A market with a few deals, recording what is left and counting the reads. */
class FakeMarket implements LeaveChain {
  statuses = new Map<Hex, DealStatusName>()
  holders = new Map<string, Address>()
  pending = new Set<string>()
  left: SlotRef[] = []
  dealReads = 0
  period = 10
  /** Deals extended since they started: the end of their first term. */
  bound = new Map<Hex, number>()

  async currentPeriod (): Promise<bigint> { return BigInt(this.period) }

  async dealStatus (dealId: Hex): Promise<DealStatusName> { return this.statuses.get(dealId) ?? 'None' }
  async getDeal (dealId: Hex): Promise<Deal> {
    this.dealReads++
    return { fragmentSize: 1000n, collateralPerByte: 3n, endPeriod: 40, boundUntil: this.bound.get(dealId) ?? 40, dealId } as unknown as Deal
  }

  async getSlot (dealId: Hex, index: number): Promise<Slot> {
    return { holder: this.holders.get(`${dealId}/${index}`) ?? '0x0000000000000000000000000000000000000000' } as unknown as Slot
  }

  async leaveSlot (dealId: Hex, index: number): Promise<never> {
    if (this.pending.has(`${dealId}/${index}`)) throw new ContractRevertError('MarketChallengePending', [dealId, BigInt(index)], 'leaveSlot', 'a challenge is pending')
    this.left.push({ dealId, index })
    this.holders.delete(`${dealId}/${index}`)
    return undefined as never
  }
}

function market (): FakeMarket {
  const m = new FakeMarket()
  m.statuses.set(id(1), 'Active')
  m.statuses.set(id(2), 'Filling')
  m.statuses.set(id(3), 'Ended')
  for (const [deal, index] of [[1, 0], [1, 1], [2, 0], [3, 2]] as const) m.holders.set(`${id(deal)}/${index}`, ME)
  m.holders.set(`${id(1)}/2`, OTHER) // repaired by someone else since we stored it
  return m
}

const held: SlotRef[] = [{ dealId: id(1), index: 0 }, { dealId: id(1), index: 1 }, { dealId: id(1), index: 2 }, { dealId: id(2), index: 0 }, { dealId: id(3), index: 2 }]

describe('supplier: leaving', () => {
  it('at once: gives up the slots of running deals, forfeiting their collateral, and keeps the rest with the reason', async () => {
    const m = market()
    const dropped: SlotRef[] = []
    const out = await leaveSlots(m, held, { self: ME, now: true, onLeft: async (ref) => { dropped.push(ref) } })
    expect(m.left).to.deep.equal([{ dealId: id(1), index: 0 }, { dealId: id(1), index: 1 }])
    expect(dropped).to.deep.equal(m.left)
    expect(out.left.map((l) => l.forfeited)).to.deep.equal([3000n, 3000n])
    // The filling deal's slot waits; the ended deal's is the release chore's; the slot someone else holds is not ours.
    expect(out.kept.map((k) => [k.dealId, k.index, k.reason])).to.deep.equal([[id(2), 0, 'filling']])
    expect(m.dealReads).to.equal(3, 'one read per deal, not per slot')
  })

  it('gently: leaves nothing on chain and says when each slot comes free', async () => {
    const m = market()
    const out = await leaveSlots(m, held, { self: ME, now: false, onLeft: async () => { throw new Error('nothing is left gently') } })
    expect(m.left).to.deep.equal([])
    expect(out.kept.map((k) => [k.index, k.reason, k.endPeriod])).to.deep.equal([[0, 'running', 40], [1, 'running', 40], [0, 'filling', undefined]])
    expect(keptLine(out.kept[0] as NonNullable<typeof out.kept[0]>, (p) => `period ${p}`)).to.match(/released when its deal ends \(period 40\)/)
  })

  it('gently: leaves, with its collateral, the slots of a deal extended past the term it started with once that term is over', async () => {
    const m = market()
    m.bound.set(id(1), 20)
    const early = await leaveSlots(m, held, { self: ME, now: false, onLeft: async () => {} })
    expect(m.left).to.deep.equal([])
    expect(early.kept.filter((k) => k.reason === 'running').map((k) => k.freeFrom)).to.deep.equal([20, 20])
    expect(nextFreeLeave(early.kept.filter((k) => k.reason === 'running'))).to.equal(20)
    expect(keptLine(early.kept[0] as NonNullable<typeof early.kept[0]>)).to.match(/extended the deal; your node leaves it with its collateral once the term it started with is over/)
    m.period = 20
    const due = await leaveSlots(m, held, { self: ME, now: false, onLeft: async () => {} })
    expect(m.left.length).to.equal(2)
    expect(due.left.map((l) => l.forfeited)).to.deep.equal([0n, 0n])
    expect(nextFreeLeave(due.kept)).to.equal(0, 'a deal still filling is looked at again at the next chance')
    expect(nextFreeLeave([])).to.equal(undefined)
  })

  it('never dodges a pending challenge: that slot is kept, and the others still go', async () => {
    const m = market()
    m.pending.add(`${id(1)}/0`)
    const out = await leaveSlots(m, held, { self: ME, now: true, onLeft: async () => {} })
    expect(m.left).to.deep.equal([{ dealId: id(1), index: 1 }])
    const kept = out.kept.find((k) => k.reason === 'challenge')
    expect(kept?.index).to.equal(0)
    expect(keptLine(kept as NonNullable<typeof kept>)).to.match(/challenge on it is pending.*supply leave --now/)
  })

  it('waits for the period\'s proof when the contract asks for it, and says so if it does not come', async () => {
    const m = market()
    const real = m.leaveSlot.bind(m)
    let refusals = 2
    m.leaveSlot = async (dealId, index) => {
      if (refusals-- > 0) throw new ContractRevertError('MarketProveBeforeLeaving', [7n, 123n], 'leaveSlot', 'prove first')
      return await real(dealId, index)
    }
    const out = await leaveSlots(m, held, { self: ME, now: true, onLeft: async () => {}, retryMs: 1 })
    expect(m.left.length).to.equal(2)
    expect(out.kept.map((k) => k.reason)).to.deep.equal(['filling'])
    // A proof that never comes: kept, with the block after which leaving works anyway.
    const m2 = market()
    m2.leaveSlot = async () => { throw new ContractRevertError('MarketProveBeforeLeaving', [7n, 123n], 'leaveSlot', 'prove first') }
    const out2 = await leaveSlots(m2, held, { self: ME, now: true, onLeft: async () => {}, retryMs: 1, patienceMs: 20 })
    const proving = out2.kept.filter((k) => k.reason === 'proving')
    expect(proving.map((k) => [k.index, k.afterBlock])).to.deep.equal([[0, 123n], [1, 123n]])
    expect(keptLine(proving[0] as NonNullable<typeof proving[0]>)).to.match(/proof is not in yet.*after block 123/)
  })

  it('passes on failures that are not the contract\'s answer (an endpoint down is not a reason to skip a slot)', async () => {
    const m = market()
    m.leaveSlot = async () => { throw new Error('connect ECONNREFUSED') }
    let error: Error | undefined
    await leaveSlots(m, held, { self: ME, now: true, onLeft: async () => {} }).catch((err: Error) => { error = err })
    expect(error?.message).to.equal('connect ECONNREFUSED')
  })

  describe('the stake, while leaving', () => {
    /** Staking's rules: free = staked − locked − unbonding; a request restarts the clock; withdraw after it. */
    class FakeStaking implements StakeChain {
      info: StakeInfo = { staked: 100n, locked: 30n, unbonding: 0n, unlockBlock: 0n }
      requests: bigint[] = []
      async stakeInfo (): Promise<StakeInfo> { return { ...this.info } }
      async freeStake (): Promise<bigint> { return this.info.staked - this.info.locked - this.info.unbonding }
      async requestUnbond (amount: bigint): Promise<never> {
        this.requests.push(amount)
        this.info = { ...this.info, unbonding: this.info.unbonding + amount, unlockBlock: this.head + 20n }
        return undefined as never
      }

      async withdraw (): Promise<never> {
        const out = this.info.unbonding
        this.info = { ...this.info, staked: this.info.staked - out, unbonding: 0n, unlockBlock: 0n }
        return undefined as never
      }

      head = 100n
    }

    it('unbonds what is free at once, not again while slots hold the rest, then the rest, and withdraws each in turn', async () => {
      const s = new FakeStaking()
      expect((await settleStake(s, ME, s.head)).unbonded).to.equal(70n)
      s.head = 110n
      expect((await settleStake(s, ME, s.head)).unbonded).to.equal(0n, 'a new request would restart the clock of the 70')
      s.head = 120n
      const w = await settleStake(s, ME, s.head)
      expect([w.withdrawn, w.info.staked, w.unbonded]).to.deep.equal([true, 30n, 0n])
      s.info = { ...s.info, locked: 0n } // the last slot was released
      expect((await settleStake(s, ME, s.head)).unbonded).to.equal(30n)
      s.head = 140n
      const last = await settleStake(s, ME, s.head)
      expect([last.withdrawn, last.info.staked, last.info.unbonding]).to.deep.equal([true, 0n, 0n])
      expect(s.requests).to.deep.equal([70n, 30n])
    })
  })
})
