import { expect } from 'chai'
import type { Address, Hex } from 'viem'
import { zeroAddress } from 'viem'
import { Keeper } from '../../../node/consumer/keeper.ts'
import type { KeeperChain } from '../../../node/consumer/keeper.ts'

const ME = '0x00000000000000000000000000000000000000AA' as Address
const holder = (i: number): Address => `0x${(i + 1).toString(16).padStart(40, '0')}` as Address
const deal = (i: number): Hex => `0x${i.toString(16).padStart(64, '0')}` as Hex

/** A market in memory that counts every read the keeper makes. */
class Chain implements KeeperChain {
  period = 5n
  head = 1000n
  window = 15n
  holders = new Map<Hex, Array<Address | undefined>>()
  proven = new Set<string>()
  refuse = new Set<string>()
  marked: Array<[Address, bigint]> = []
  challenges = new Map<string, { challenger: Address, issuedBlock: bigint }>()
  expired: Array<[Hex, number]> = []
  reads = { holders: 0, settled: 0, challenge: 0 }
  failHolders = new Set<Hex>()
  async currentPeriod (): Promise<bigint> { return this.period }
  async blockNumber (): Promise<bigint> { return this.head }
  async challengeWindow (): Promise<bigint> { return this.window }
  async slotHolders (dealId: Hex): Promise<Array<Address | undefined>> {
    this.reads.holders++
    if (this.failHolders.has(dealId)) throw new Error('endpoint unavailable')
    return this.holders.get(dealId) ?? []
  }

  async periodOutcome (h: Address, p: bigint): Promise<'proven' | 'missed' | 'open'> {
    this.reads.settled++
    return this.proven.has(`${h}:${p}`) ? 'proven' : this.marked.some(([x, q]) => x === h && q === p) ? 'missed' : 'open'
  }
  attempts: Address[] = []
  async markMissed (h: Address, p: bigint): Promise<boolean> {
    this.attempts.push(h)
    if (this.refuse.has(h)) return false
    this.marked.push([h, p])
    return true
  }

  async challenge (dealId: Hex, slot: number): Promise<{ challenger: Address, issuedBlock: bigint }> {
    this.reads.challenge++
    return this.challenges.get(`${dealId}:${slot}`) ?? { challenger: zeroAddress, issuedBlock: 0n }
  }

  async expireChallenge (dealId: Hex, slot: number): Promise<boolean> {
    this.expired.push([dealId, slot])
    this.challenges.delete(`${dealId}:${slot}`)
    return true
  }
}

describe('consumer/keeper', () => {
  let chain: Chain
  let keeper: Keeper
  const deals = [{ dealId: deal(1), slots: 3 }, { dealId: deal(2), slots: 3 }]

  beforeEach(() => {
    chain = new Chain()
    // Both deals on the same three holders, as a small network has it.
    for (const d of deals) chain.holders.set(d.dealId, [holder(0), holder(1), holder(2)])
    keeper = new Keeper(chain, ME)
  })

  it('marks each holder\'s missed period once, however many of our deals it holds', async () => {
    chain.proven.add(`${holder(0)}:4`)
    const report = await keeper.round(deals)
    expect(report.marked).to.equal(2)
    expect(chain.marked).to.deep.equal([[holder(1), 4n], [holder(2), 4n]])
    expect(chain.reads.settled).to.equal(3) // three holders, not six
  })

  it('reads a deal\'s holders once per period, not every round', async () => {
    await keeper.round(deals)
    await keeper.round(deals)
    await keeper.round(deals)
    expect(chain.reads.holders).to.equal(2)
    chain.period++
    await keeper.round(deals)
    expect(chain.reads.holders).to.equal(4)
    expect(chain.marked.filter(([, p]) => p === 5n)).to.have.length(3)
  })

  it('counts a refused mark as settled (the holder owed no proof) and does not try again that period', async () => {
    chain.refuse.add(holder(0))
    const first = await keeper.round(deals)
    expect(first.marked).to.equal(2)
    expect(chain.attempts.filter((h) => h === holder(0))).to.have.length(1) // not again for the second deal
    chain.period++ // the next period: its holders are gone through again, holder 0 included
    chain.refuse.clear()
    await keeper.round(deals)
    expect(chain.marked.filter(([h]) => h === holder(0))).to.deep.equal([[holder(0), 5n]])
  })

  it('after a start reads every slot\'s challenge once, then only the slots we challenged', async () => {
    chain.challenges.set(`${deal(1)}:2`, { challenger: ME, issuedBlock: 995n }) // ours, still open
    await keeper.round(deals)
    expect(chain.reads.challenge).to.equal(6)
    await keeper.round(deals)
    expect(chain.reads.challenge).to.equal(7) // only deal 1 slot 2
    keeper.challenged(deal(2), 0)
    chain.challenges.set(`${deal(2)}:0`, { challenger: ME, issuedBlock: 999n })
    await keeper.round(deals)
    expect(chain.reads.challenge).to.equal(9)
    expect(chain.expired).to.deep.equal([])
  })

  it('expires our challenge once its window is over, and forgets one that was answered', async () => {
    chain.challenges.set(`${deal(1)}:1`, { challenger: ME, issuedBlock: 990n })
    chain.challenges.set(`${deal(2)}:2`, { challenger: ME, issuedBlock: 990n })
    chain.challenges.set(`${deal(2)}:0`, { challenger: holder(9), issuedBlock: 900n }) // someone else's
    await keeper.round(deals)
    expect(chain.expired).to.deep.equal([])
    chain.challenges.delete(`${deal(2)}:2`) // answered by its holder
    chain.head = 1006n // 990 + 15 < 1006
    const report = await keeper.round(deals)
    expect(report.expired).to.equal(1)
    expect(chain.expired).to.deep.equal([[deal(1), 1]])
    const reads = chain.reads.challenge
    await keeper.round(deals)
    expect(chain.reads.challenge).to.equal(reads) // nothing of ours is pending any more
  })

  it('a deal whose reads fail is tried again next round; the others are kept meanwhile', async () => {
    chain.failHolders.add(deal(1))
    chain.holders.set(deal(2), [holder(3)])
    await keeper.round(deals)
    expect(chain.marked).to.deep.equal([[holder(3), 4n]])
    chain.failHolders.clear()
    await keeper.round(deals)
    expect(chain.marked.map(([h]) => h)).to.deep.equal([holder(3), holder(0), holder(1), holder(2)])
  })

  it('tells, per deal, how many slots were proven and missed in the last period (what ls shows)', async () => {
    chain.holders.set(deal(1), [holder(0), holder(1), undefined])
    chain.holders.set(deal(2), [holder(1), holder(2), holder(3)])
    chain.proven.add(`${holder(0)}:4`)
    chain.proven.add(`${holder(2)}:4`)
    chain.refuse.add(holder(3)) // filled during period 4: owed no proof for it
    expect(keeper.proofs(deal(1))).to.equal(undefined) // nothing gone through yet
    await keeper.round(deals)
    expect(keeper.proofs(deal(1))).to.deep.equal({ period: 4n, proven: 1, missed: 1 })
    expect(keeper.proofs(deal(2))).to.deep.equal({ period: 4n, proven: 1, missed: 1 }) // holder 1 counted once, holder 3 not due
  })

  it('does nothing in period 0, and reads nothing without deals', async () => {
    chain.period = 0n
    await keeper.round(deals)
    expect(chain.marked).to.deep.equal([])
    expect(chain.reads.holders).to.equal(0)
    const idle = new Chain()
    await new Keeper(idle, ME).round([])
    expect(idle.reads).to.deep.equal({ holders: 0, settled: 0, challenge: 0 })
  })
})
