import { createHash } from 'node:crypto'
import { expect } from 'chai'
import type { Address, Hex } from 'viem'
import { place } from '../../../node/consumer/upload.ts'
import type { FragmentPass, FragmentSource, UploadChain, UploadNet } from '../../../node/consumer/upload.ts'
import type { DealTerms, SupplierOffer } from '../../../node/consumer/types.ts'
import { ROOT_LATER } from '../../../node/proofs/constants.ts'

const addr = (i: number): Address => `0x${i.toString(16).padStart(40, '0')}` as Address
const offer = (i: number): SupplierOffer => ({ peerId: `peer-${i}`, address: addr(i), capacity: 10n ** 9n, price: 1n, stake: 10n ** 24n })
const terms = { k: 2, m: 1, periods: 10, price: 1n, collateralPerByte: 1n }

const DEAL = `0x${'de'.repeat(32)}` as Hex
const fragment = (i: number): Buffer => Buffer.alloc(1024, i + 1)
const rootOf = (bytes: Uint8Array): Hex => `0x${createHash('sha256').update(bytes).digest('hex')}`

class Chain implements UploadChain {
  readonly address = addr(999)
  holders: Array<Address | undefined> = []
  opened: Array<{ terms: DealTerms, roots: Hex[], salt: Hex }> = []
  revert: Error | undefined
  block = 10n
  dealIdFor (): Hex { return DEAL }
  async openDeal (t: DealTerms, roots: Hex[], salt: Hex): Promise<Hex> {
    if (this.revert !== undefined) throw this.revert
    this.opened.push({ terms: t, roots, salt }); this.holders = roots.map(() => undefined)
    return DEAL
  }
  /** The slots each holder read asked for (undefined: all). */
  asked: Array<number[] | undefined> = []
  async slotHolders (_deal: Hex, only?: number[]): Promise<Array<Address | undefined>> { this.asked.push(only); return [...this.holders] }
  /** Each read of the head moves the chain one block on (else only transactions do, as automining). */
  tickOnRead = false
  /** SlotFilled events: the block of each fill, as the next head read sees it. */
  fills: Array<{ block: bigint, index: number, holder: Address }> = []
  /** The ranges of blocks asked for fill events. */
  scans: Array<[bigint, bigint]> = []
  fill (index: number, holder: Address): void {
    this.holders[index] = holder
    if (!this.tickOnRead) this.block++
    this.fills.push({ block: this.block, index, holder })
  }
  async fillsBetween (_deal: Hex, from: bigint, to: bigint): Promise<Array<{ index: number, holder: Address }>> {
    this.scans.push([from, to])
    return this.fills.filter((f) => f.block >= from && f.block <= to).map(({ index, holder }) => ({ index, holder }))
  }
  async blockNumber (): Promise<bigint> { return this.tickOnRead ? this.block++ : this.block }
  deadline = 10_000n
  async deadlineBlock (): Promise<bigint> { return this.deadline }
}

/** Suppliers in memory: they hash what arrives, and a put announced with ROOT_LATER waits for the commit. */
class Net implements UploadNet {
  offerList: SupplierOffer[]
  received = new Map<string, Buffer>()
  /** Each put: who, which slot, the root announced, and how many deals were open when it was kept. */
  puts: Array<{ peerId: string, slot: number, root: Hex, openAtCommit?: number }> = []
  failing = new Set<string>()
  silent = new Set<string>()
  /** Suppliers that fill their slot a few ms after accepting, as real ones do (a transaction). */
  late = new Set<string>()
  lateMs = 5
  /** Suppliers whose copy is damaged (they hash other bytes than were sent). */
  corrupt = new Set<string>()
  /** Every supplier refuses puts ahead of their deal (ROOT_LATER) before taking a byte. */
  refuseAhead = false
  private readonly chain: Chain
  constructor (chain: Chain, n: number) { this.chain = chain; this.offerList = Array.from({ length: n }, (_, i) => offer(i + 1)) }
  /** What each offers() call asked for, and offers found only by looking further than the cache. */
  asked: Array<number | undefined> = []
  further: SupplierOffer[] = []
  async offers (atLeast?: number): Promise<SupplierOffer[]> {
    this.asked.push(atLeast)
    if (atLeast !== undefined && atLeast > this.offerList.length) this.offerList.push(...this.further.splice(0))
    return this.offerList
  }
  async putFragment (peerId: string, meta: { dealId: Hex, slot: number, size: number, root: Hex }, source: AsyncIterable<Uint8Array>, options: { onBytes?: (n: number) => void, commit?: (root: string) => Promise<void> }) {
    const put: { peerId: string, slot: number, root: Hex, openAtCommit?: number } = { peerId, slot: meta.slot, root: meta.root }
    this.puts.push(put)
    if (this.refuseAhead && meta.root === ROOT_LATER) throw Object.assign(new Error('too much taken in for deals not yet opened'), { name: 'NotAcceptingError' })
    const chunks: Buffer[] = []
    let n = 0
    for await (const c of source) {
      chunks.push(Buffer.from(c)); n += c.length; options.onBytes?.(n)
      if (this.failing.has(peerId)) throw new Error('connection reset')
    }
    const bytes = Buffer.concat(chunks)
    if (this.corrupt.has(peerId)) bytes.writeUInt8((bytes[0] ?? 0) ^ 1, 0)
    const root = rootOf(bytes)
    if (meta.root === ROOT_LATER) {
      await (options.commit as (root: string) => Promise<void>)(root)
      put.openAtCommit = this.chain.opened.length
    } else if (root !== meta.root) {
      throw new Error('root mismatch')
    }
    this.received.set(`${peerId}:${meta.slot}`, bytes)
    const o = this.offerList.find((x) => x.peerId === peerId) as SupplierOffer
    // A good supplier fills its slot on chain right after accepting; a silent one never does.
    if (this.late.has(peerId)) setTimeout(() => { this.chain.fill(meta.slot, o.address) }, this.lateMs)
    else if (!this.silent.has(peerId)) this.chain.fill(meta.slot, o.address)
    return { peerId, dealId: meta.dealId, slot: meta.slot, root: root as Hex }
  }
}

/** Fragments from memory; records each pass (which fragments it was asked for, whether it hashed). */
class Source implements FragmentSource {
  size = 3000
  fragmentSize = 1024
  roots?: Hex[]
  readonly realRoots = [0, 1, 2].map((i) => rootOf(fragment(i)))
  passes: number[][] = []
  hashed: boolean[] = []
  failPass: Error | undefined
  /** The first pass stops early, as a real one does when every reader left before the end. */
  firstEndsEarly = false
  async open (indices: number[], o: { roots: boolean }): Promise<FragmentPass> {
    this.passes.push(indices)
    this.hashed.push(o.roots)
    if (this.firstEndsEarly && this.passes.length === 1) {
      return { streams: new Map(indices.map((i) => [i, (async function * () { yield fragment(i).subarray(0, 512) })()])), done: Promise.resolve(undefined) }
    }
    const fail = this.failPass
    const streams = new Map(indices.map((i) => [i, (async function * () {
      if (fail !== undefined) throw fail
      yield fragment(i).subarray(0, 512)
      yield fragment(i).subarray(512)
    })()]))
    return { streams, done: fail !== undefined ? Promise.reject(fail) : Promise.resolve({ roots: this.realRoots }) }
  }
}

/** The error a placement fails with; fails the test if it succeeds. */
async function failure (p: Promise<unknown>): Promise<Error> {
  return await p.then(() => expect.fail('should fail'), (err: unknown) => err as Error)
}

describe('consumer/upload place', () => {
  let encoded: Source
  beforeEach(() => { encoded = new Source() })

  it('sends every fragment in one hashing pass, opens the deal with its roots, then has each supplier keep its fragment', async () => {
    const chain = new Chain()
    const net = new Net(chain, 3)
    const stages = new Set<string>()
    const placed = await place(encoded, chain, net, { terms, onProgress: (e) => stages.add(e.stage), pollMs: 1 })
    expect(chain.opened).to.have.length(1)
    expect(chain.opened[0]?.roots).to.deep.equal(encoded.realRoots)
    expect(chain.opened[0]?.terms.fragmentSize).to.equal(1024n)
    expect(chain.opened[0]?.salt).to.match(/^0x[0-9a-f]{64}$/)
    expect(placed.dealId).to.equal(DEAL)
    expect(new Set(placed.holders).size).to.equal(3)
    for (const r of placed.receipts) expect(net.received.get(`${r.peerId}:${r.slot}`)?.[0]).to.equal(r.slot + 1)
    expect([...stages]).to.include.members(['suppliers', 'deal', 'transfer', 'fill'])
    expect(encoded.passes).to.deep.equal([[0, 1, 2]]) // one pass over the file feeds every supplier
    expect(encoded.hashed).to.deep.equal([true])
    // Sent before the deal existed; each commit came only once the deal was open.
    expect(net.puts.map((p) => p.root)).to.deep.equal([ROOT_LATER, ROOT_LATER, ROOT_LATER])
    expect(net.puts.map((p) => p.openAtCommit)).to.deep.equal([1, 1, 1])
  })

  it('replaces a supplier whose copy hashes to another root, sending the known root to the next', async () => {
    const chain = new Chain()
    const net = new Net(chain, 4)
    net.corrupt.add('peer-2')
    ;(net.offerList[3] as SupplierOffer).price = 2n
    const placed = await place(encoded, chain, net, { terms: { ...terms, price: 2n }, pollMs: 1 })
    expect(chain.opened).to.have.length(1)
    expect(placed.receipts.map((r) => r.peerId)).to.not.include('peer-2')
    expect(encoded.hashed).to.deep.equal([true, false])
    const retry = net.puts.find((p) => p.peerId === 'peer-4')
    expect(retry?.root).to.equal(encoded.realRoots[retry?.slot ?? -1])
  })

  it('when every supplier refuses fragments ahead of the deal, a pass only for the roots opens it and they go with their roots', async () => {
    const chain = new Chain()
    const net = new Net(chain, 3)
    net.refuseAhead = true
    encoded.firstEndsEarly = true
    const placed = await place(encoded, chain, net, { terms, pollMs: 1 })
    expect(encoded.passes).to.deep.equal([[0, 1, 2], [], [0, 1, 2]])
    expect(encoded.hashed).to.deep.equal([true, true, false])
    expect(chain.opened).to.have.length(1)
    expect(net.puts.filter((p) => p.root !== ROOT_LATER).map((p) => p.root).sort()).to.deep.equal([...encoded.realRoots].sort())
    expect(new Set(placed.holders).size).to.equal(3)
  })

  it('a deal that cannot be opened (the chain reverts) fails the upload with that error and no supplier keeps anything', async () => {
    const chain = new Chain()
    const net = new Net(chain, 6)
    chain.revert = Object.assign(new Error('insufficient allowance'), { name: 'ChainRevertError' })
    const err = await failure(place(encoded, chain, net, { terms, pollMs: 1 }))
    expect(err.message).to.equal('insufficient allowance')
    expect(net.received.size).to.equal(0)
    expect(encoded.passes).to.have.length(1)
  })

  it('replaces a supplier that drops the transfer midway', async () => {
    const chain = new Chain()
    const net = new Net(chain, 4)
    net.failing.add('peer-2')
    // The spare costs more, so the first choice is always peers 1-3 (ties are broken at random).
    ;(net.offerList[3] as SupplierOffer).price = 2n
    const placed = await place(encoded, chain, net, { terms: { ...terms, price: 2n }, pollMs: 1 })
    // A second pass only for the fragment whose supplier failed, to the spare supplier.
    expect(encoded.passes).to.have.length(2)
    expect(encoded.passes[1]).to.have.length(1)
    const retry = encoded.passes[1]?.[0] as number
    const holder = placed.receipts.find((r) => r.slot === retry)?.peerId
    expect(holder).to.not.equal('peer-2')
    expect(net.received.get(`${holder}:${retry}`)?.equals(Buffer.alloc(1024, retry + 1))).to.equal(true)
    expect(placed.receipts.map((r) => r.peerId)).to.not.include('peer-2')
    expect(placed.holders).to.not.include(addr(2))
    expect(new Set(placed.holders).size).to.equal(3)
  })

  it('replaces a supplier that accepts but never fills its slot', async () => {
    const chain = new Chain()
    const net = new Net(chain, 4)
    net.silent.add('peer-1')
    // The spare costs more, so the first choice is always peers 1-3 (ties are broken at random):
    // otherwise the silent supplier is sometimes never chosen at all.
    ;(net.offerList[3] as SupplierOffer).price = 2n
    const placed = await place(encoded, chain, net, { terms: { ...terms, price: 2n }, pollMs: 1, fillTimeoutMs: 30 })
    expect(placed.holders).to.not.include(addr(1))
    // The waits follow the fill events; the slots are read only once the silent supplier's time is
    // up (was it filled after all?), and the next supplier's fill is seen by its event.
    expect(chain.asked).to.deep.equal([undefined])
    for (let j = 1; j < chain.scans.length; j++) expect(chain.scans[j]?.[0]).to.equal((chain.scans[j - 1]?.[1] ?? 0n) + 1n)
  })

  it('tells the caller of each fragment accepted, with its holder, before the slot is seen filled', async () => {
    const chain = new Chain()
    const net = new Net(chain, 4)
    net.silent.add('peer-1')
    for (const p of ['peer-2', 'peer-3', 'peer-4']) net.late.add(p)
    ;(net.offerList[3] as SupplierOffer).price = 2n
    const accepted: Array<{ slot: number, peerId: string, address: Address, free: boolean }> = []
    const placed = await place(encoded, chain, net, {
      terms: { ...terms, price: 2n }, pollMs: 1, fillTimeoutMs: 30,
      onAccepted: (slot, h) => { accepted.push({ slot, ...h, free: chain.holders[slot] === undefined }) },
    })
    // Told while the fills were still to come.
    expect(accepted.every((a) => a.free)).to.equal(true)
    // Every accepted put, the silent supplier's too (it did accept; its replacement is told as well).
    expect(accepted.map((a) => a.peerId).sort()).to.deep.equal(['peer-1', 'peer-2', 'peer-3', 'peer-4'])
    for (const a of accepted) expect(a.address).to.equal(addr(Number(a.peerId.slice(5))))
    const silentSlot = accepted.find((a) => a.peerId === 'peer-1')?.slot
    expect(accepted.find((a) => a.peerId === 'peer-4')?.slot).to.equal(silentSlot)
    expect(placed.holders[silentSlot as number]).to.equal(addr(4))
  })

  it('sees a fill that lands just after the put without waiting a whole poll interval', async () => {
    const chain = new Chain()
    const net = new Net(chain, 3)
    for (const o of net.offerList) net.late.add(o.peerId)
    net.lateMs = 100
    // A minute between polls would time this test out if the waits did not look again soon.
    const placed = await place(encoded, chain, net, { terms, pollMs: 60_000 })
    expect(new Set(placed.holders).size).to.equal(3)
    // Followed by the deal's fill events, asked for only when the head moved (the deal's opening
    // and three fills: at most four scans), over ranges that neither overlap nor leave a gap;
    // no slot is read.
    expect(chain.asked).to.deep.equal([])
    expect(chain.scans.length).to.be.within(1, 4)
    for (let j = 1; j < chain.scans.length; j++) expect(chain.scans[j]?.[0]).to.equal((chain.scans[j - 1]?.[1] ?? 0n) + 1n)
  })

  it('sees a slot filled before the wait began (between the head read and the first scan)', async () => {
    const chain = new Chain()
    const net = new Net(chain, 3)
    // The fills land at once, in the blocks right after the upload read the head.
    const placed = await place(encoded, chain, net, { terms, pollMs: 60_000 })
    // Each slot's holder is the supplier its fragment went to, as its fill event says.
    expect(placed.holders).to.deep.equal(placed.receipts.map((r) => net.offerList.find((o) => o.peerId === r.peerId)?.address))
    expect(chain.scans[0]?.[0]).to.equal(11n) // the block after the one read at the start (10)
  })

  it('gives up on a slot still free when the deal\'s fill deadline passes', async () => {
    const chain = new Chain()
    chain.deadline = 20n
    chain.tickOnRead = true // each block read moves the chain one block on
    const net = new Net(chain, 3)
    for (const o of net.offerList) net.silent.add(o.peerId)
    const err = await failure(place(encoded, chain, net, { terms, pollMs: 1, fillTimeoutMs: 60_000 }))
    expect(err.message).to.match(/fill deadline \(block 20\) passed/)
  })

  it('fails saying which fragment found no supplier, and that the opened deal could not be filled', async () => {
    const chain = new Chain()
    const net = new Net(chain, 3)
    net.failing.add('peer-3')
    const err = await failure(place(encoded, chain, net, { terms, pollMs: 1 }))
    expect(err.name).to.equal('UploadFailedError')
    expect(err.message).to.match(/no supplier left to hold fragment \d+ \(.+\); the deal could not be filled$/)
  })

  it('resumes into an existing deal, placing only its free slots on new suppliers', async () => {
    const chain = new Chain()
    const net = new Net(chain, 4)
    encoded.roots = encoded.realRoots
    await chain.openDeal({ ...terms, fragmentSize: 1024n }, encoded.roots, DEAL)
    chain.opened = []
    chain.holders[1] = addr(1) // placed before the restart
    const placed = await place(encoded, chain, net, { terms, pollMs: 1, dealId: DEAL })
    expect(chain.opened).to.have.length(0)
    expect(encoded.hashed).to.deep.equal([false])
    expect(net.puts.map((p) => p.root)).to.deep.equal([encoded.realRoots[0], encoded.realRoots[2]])
    expect(placed.receipts.map((r) => r.slot).sort()).to.deep.equal([0, 2])
    expect(placed.receipts.map((r) => r.peerId)).to.not.include('peer-1')
    expect(placed.holders[1]).to.equal(addr(1))
    expect(new Set(placed.holders).size).to.equal(3)
  })

  it('refuses before opening a deal when there are too few suppliers', async () => {
    const chain = new Chain()
    const net = new Net(chain, 2)
    const err = await failure(place(encoded, chain, net, { terms, offerWaitMs: 50, pollMs: 5 }))
    expect(err.name).to.equal('NotEnoughSuppliersError')
    expect(chain.opened).to.have.length(0)
  })

  it('asks for more offers than it knows when those it knows cannot take the upload', async () => {
    const chain = new Chain()
    const net = new Net(chain, 4)
    ;(net.offerList[0] as SupplierOffer).price = 99n // above the price this upload pays
    net.further = net.offerList.splice(3) // a supplier the cache has not heard of yet
    const placed = await place(encoded, chain, net, { terms, offerWaitMs: 5000, pollMs: 1 })
    expect(net.asked).to.deep.equal([3, 4])
    expect(placed.receipts.map((r) => r.peerId).sort()).to.deep.equal(['peer-2', 'peer-3', 'peer-4'])
  })

  it('a pass that fails on its own (the file changed) fails the upload with that error, without trying other suppliers', async () => {
    const chain = new Chain()
    const net = new Net(chain, 6)
    encoded.failPass = Object.assign(new Error('the file changed'), { name: 'FileChangedError' })
    const err = await failure(place(encoded, chain, net, { terms, pollMs: 1 }))
    expect(err.name).to.equal('FileChangedError')
    expect(encoded.passes).to.have.length(1)
  })
})
