import { expect } from 'chai'
import { zeroAddress } from 'viem'
import type { Address, Hex } from 'viem'
import { RepairError, RepairNotOursError } from '../../../node/repair/index.ts'
import type { SlotRef } from '../../../node/repair/index.ts'
import { MAX_WAVE, RETRY_MS, RepairQueue, TRIES } from '../../../node/repair/queue.ts'
import { FIRST_WAVE, WAVE_MS, repairWave } from '../../../node/repair/wave.ts'
import type { RepairQueueDeps } from '../../../node/repair/queue.ts'

const ME = '0x00000000000000000000000000000000000000aa' as Address
const OTHER = '0x00000000000000000000000000000000000000bb' as Address
const ref = (n: number): SlotRef => ({ dealId: `0x${n.toString(16).padStart(64, '0')}` as Hex, index: 1 })
/** A slot whose wave for ME among `suppliers` passes `test`. */
const slotWhere = (suppliers: number, test: (wave: number) => boolean): SlotRef => {
  for (let n = 1000; ; n++) if (test(repairWave(ref(n).dealId, ME, suppliers))) return ref(n)
}
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
    const { q, tried } = setup({ suppliers: () => 1_000, paused: () => paused })
    const slot = slotWhere(1_000, (w) => w >= 2 && w <= MAX_WAVE)
    const wave = repairWave(slot.dealId, ME, 1_000)
    q.want(slot)
    await settle()
    expect(tried).to.deep.equal([])
    paused = false
    q.poll()
    await settle()
    expect(tried).to.deep.equal([], 'not before its wave')
    now += (wave - 1) * WAVE_MS
    q.poll()
    await settle()
    expect(tried).to.deep.equal([])
    now += WAVE_MS
    q.poll()
    await settle()
    expect(tried).to.deep.equal([slot])
  })

  it('leaves a slot to others past MAX_WAVE, without reading it, so a freed slot costs a large network a bounded number of reads', async () => {
    let reads = 0
    const late = slotWhere(1_000_000, (w) => w > MAX_WAVE)
    const { q, tried } = setup({
      suppliers: () => 1_000_000,
      freedLately: async () => [late],
      holderOf: async () => { reads++; return zeroAddress },
      active: async () => { reads++; return true },
    })
    q.want(late)
    q.lookBack()
    await settle()
    now += 24 * 3600_000
    q.poll()
    await settle()
    expect([q.size, reads, tried.length]).to.deep.equal([0, 0, 0])
    // Among a million suppliers, about this many queue a given slot at all.
    const queued = Array.from({ length: 4_000 }, (_, i) => repairWave(ref(i).dealId, ME, 1_000_000) <= MAX_WAVE).filter(Boolean).length
    const expected = 4_000 * FIRST_WAVE * (2 ** (MAX_WAVE + 1) - 1) / 1_000_000 // ~1
    expect(queued).to.be.within(0, expected * 8 + 4)
  })

  it('queues a jailed supplier\'s slot drawn among the few that looked it up, however large the network', async () => {
    const { q, tried, holders } = setup({ suppliers: () => 1_000_000 })
    const slot = slotWhere(1_000_000, (w) => w > MAX_WAVE)
    holders.set(slot.dealId, OTHER)
    q.want(slot, OTHER, 16)
    now += 3 * WAVE_MS // the last wave among 16
    q.poll()
    await settle()
    expect(tried).to.deep.equal([slot])
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
