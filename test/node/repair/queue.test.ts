import { expect } from 'chai'
import { zeroAddress } from 'viem'
import type { Address, Hex } from 'viem'
import { RepairError, RepairNotOursError } from '../../../node/repair/index.ts'
import type { SlotRef } from '../../../node/repair/index.ts'
import { RETRY_MS, RepairQueue, TRIES } from '../../../node/repair/queue.ts'
import type { RepairQueueDeps } from '../../../node/repair/queue.ts'

const ME = '0x00000000000000000000000000000000000000aa' as Address
const OTHER = '0x00000000000000000000000000000000000000bb' as Address
const ref = (n: number): SlotRef => ({ dealId: `0x${n.toString(16).padStart(64, '0')}` as Hex, index: 1 })
const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve)) }

/** A queue over fake chain reads; `clock` moves Date.now for the retries. */
function setup (over: Partial<RepairQueueDeps> = {}): { q: RepairQueue, holders: Map<string, Address>, tried: SlotRef[], outcome: { next: () => Promise<void> } } {
  const holders = new Map<string, Address>()
  const tried: SlotRef[] = []
  const outcome = { next: async (): Promise<void> => {} }
  const q = new RepairQueue({
    self: ME,
    slotId: (r) => r.dealId,
    suppliers: () => 0, // everyone in the first wave
    holderOf: async (r) => holders.get(r.dealId) ?? zeroAddress,
    active: async () => true,
    freedLately: async () => [],
    repair: async (r) => { tried.push(r); await outcome.next() },
    paused: () => false,
    ...over,
  })
  return { q, holders, tried, outcome }
}

describe('repair queue', () => {
  const realNow = Date.now
  let now = 1_000_000
  beforeEach(() => { now = 1_000_000; Date.now = () => now })
  afterEach(() => { Date.now = realNow })

  it('repairs a freed slot at once in the first wave, and forgets it once done', async () => {
    const { q, tried } = setup()
    q.want(ref(1))
    await settle()
    expect(tried).to.deep.equal([ref(1)])
    expect(q.size).to.equal(0)
  })

  it('tries a failed repair again later, doubling the wait, and gives up after TRIES', async () => {
    const { q, tried, outcome } = setup()
    outcome.next = async () => { throw new RepairError('could fetch only 1 of the 2 fragments') }
    q.want(ref(2))
    await settle()
    expect(tried.length).to.equal(1)
    q.poll()
    await settle()
    expect(tried.length).to.equal(1, 'not before its time')
    let wait = RETRY_MS
    for (let t = 2; t <= TRIES; t++) {
      now += wait
      wait *= 2
      q.poll()
      await settle()
      expect(tried.length).to.equal(t)
    }
    now += 24 * 3600_000
    q.poll()
    await settle()
    expect(tried.length).to.equal(TRIES)
    expect(q.size).to.equal(0)
  })

  it('drops a slot someone else filled (one read, no repair) and one that is not ours to repair', async () => {
    const { q, holders, tried, outcome } = setup()
    holders.set(ref(3).dealId, OTHER)
    q.want(ref(3))
    await settle()
    expect(tried).to.deep.equal([])
    expect(q.size).to.equal(0)
    outcome.next = async () => { throw new RepairNotOursError('this supplier already holds slot 0') }
    q.want(ref(4))
    await settle()
    expect(tried).to.deep.equal([ref(4)])
    expect(q.size).to.equal(0)
  })

  it('repairs a jailed holder\'s slot while the jailed holder is still named on it', async () => {
    const { q, holders, tried } = setup()
    holders.set(ref(5).dealId, OTHER)
    q.want(ref(5), OTHER)
    await settle()
    expect(tried).to.deep.equal([ref(5)])
  })

  it('waits for its wave in a large network, and does nothing while paused', async () => {
    let paused = true
    const { q, tried } = setup({ suppliers: () => 1_000_000, paused: () => paused })
    q.want(ref(6))
    await settle()
    expect(tried).to.deep.equal([])
    paused = false
    q.poll()
    await settle()
    expect(tried).to.deep.equal([], 'with a million suppliers this one is almost surely not in the first wave')
    now += 3600_000
    q.poll()
    await settle()
    expect(tried).to.deep.equal([ref(6)])
  })

  it('looks back for slots freed lately that are still free and whose deal runs', async () => {
    const holders = new Map<string, Address>([[ref(8).dealId, OTHER]])
    const { q, tried } = setup({
      freedLately: async () => [ref(7), ref(7), ref(8), ref(9)],
      holderOf: async (r) => holders.get(r.dealId) ?? zeroAddress,
      active: async (dealId) => dealId !== ref(9).dealId,
    })
    q.lookBack()
    await settle()
    expect(tried).to.deep.equal([ref(7)])
  })
})
