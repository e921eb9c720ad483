import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import type { Address } from 'viem'
import { WATCHERS, Watchtower, watches } from '../../../node/supplier/watchtower.ts'
import type { WatchChain } from '../../../node/supplier/watchtower.ts'
import type { PeriodOutcome } from '../../../node/chain/types.ts'

const address = (): Address => `0x${randomBytes(20).toString('hex')}`

class FakeChain implements WatchChain {
  outcomes = new Map<string, PeriodOutcome>()
  /** Suppliers that owed no proof: the contract refuses to mark them. */
  idle = new Set<string>()
  reads = 0
  attempts = 0
  marks: Array<[Address, bigint]> = []
  async markable (s: Address, period: bigint): Promise<boolean> {
    this.reads++
    return (this.outcomes.get(`${s.toLowerCase()}/${period}`) ?? 'open') === 'open'
  }

  async markMissed (s: Address, period: bigint): Promise<boolean> {
    this.attempts++
    if (this.idle.has(s.toLowerCase())) return false
    this.marks.push([s, period])
    this.outcomes.set(`${s.toLowerCase()}/${period}`, 'missed')
    return true
  }
}

describe('supplier: watchtower', () => {
  it('has each supplier watched by about WATCHERS others per period, however large the network', () => {
    const all = Array.from({ length: 2000 }, address)
    const watched = all[0] as Address
    let total = 0
    for (let period = 1n; period <= 20n; period++) total += all.slice(1).filter((w) => watches(period, w, watched, all.length)).length
    expect(total / 20).to.be.within(WATCHERS - 1.5, WATCHERS + 1.5)
    // And a watcher looks at about WATCHERS suppliers, not at all it knows.
    const watcher = all[1] as Address
    expect(all.filter((x) => x !== watcher && watches(7n, watcher, x, all.length)).length).to.be.within(0, 12)
  })

  it('in a small network everyone watches everyone', () => {
    const all = Array.from({ length: WATCHERS + 1 }, address)
    for (const a of all) for (const b of all) if (a !== b) expect(watches(3n, a, b, all.length)).to.equal(true)
  })

  it('marks the last period of a watched supplier that neither proved nor was marked, once per period', async () => {
    const me = address()
    const [good, silent, idle] = [address(), address(), address()]
    const chain = new FakeChain()
    for (const p of [4, 5, 6]) chain.outcomes.set(`${good.toLowerCase()}/${p}`, 'proven')
    chain.idle.add(idle.toLowerCase())
    // Three others: each is watched (WATCHERS), itself and a duplicate left out.
    const tower = new Watchtower(chain, me, () => [good, silent, idle, me, silent])
    expect(await tower.round(5n)).to.equal(1)
    expect(chain.marks).to.deep.equal([[silent.toLowerCase(), 4n]])
    expect(chain.reads).to.equal(3)
    expect(await tower.round(5n)).to.equal(0)
    expect(chain.reads).to.equal(3, 'a period is gone through once')
    // Someone else marked it first this time: no second mark.
    chain.outcomes.set(`${silent.toLowerCase()}/5`, 'missed')
    expect(await tower.round(6n)).to.equal(0)
    expect(await tower.round(7n)).to.equal(1)
    expect(chain.marks.at(-1)).to.deep.equal([silent.toLowerCase(), 6n])
  })

  it('sends no mark for a period the supplier owed nothing for', async () => {
    const chain = new FakeChain()
    const fresh = address()
    chain.outcomes.set(`${fresh.toLowerCase()}/4`, 'not due')
    const tower = new Watchtower(chain, address(), () => [fresh])
    expect(await tower.round(5n)).to.equal(0)
    expect([chain.reads, chain.attempts]).to.deep.equal([1, 0])
    expect(await tower.round(6n)).to.equal(1, 'period 5 is owed (open): marked')
  })

  it('goes through a period again when its round failed halfway', async () => {
    const chain = new FakeChain()
    let fail = true
    const markable = chain.markable.bind(chain)
    chain.markable = async (s, p) => { if (fail) throw new Error('endpoint down'); return await markable(s, p) }
    const silent = address()
    const tower = new Watchtower(chain, address(), () => [silent])
    let error: Error | undefined
    await tower.round(9n).catch((err: Error) => { error = err })
    expect(error?.message).to.equal('endpoint down')
    fail = false
    expect(await tower.round(9n)).to.equal(1)
  })
})
