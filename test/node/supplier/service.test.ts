/**
 * The supplier's fragment backend against the real contracts on a local chain: what it takes in
 * for a deal that is not open yet, and what it keeps once the consumer commits.
 */
import { expect } from 'chai'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Level } from 'level'
import type { Hex } from 'viem'
import { numberToHex, zeroAddress } from 'viem'
import { DEVNET_PARAMS, DUST } from '../../../node/chain/deploy-params.ts'
import { uploadView } from '../../../node/chain/views.ts'
import type { NodeServices } from '../../../node/node.ts'
import { ROOT_LATER } from '../../../node/proofs/constants.ts'
import { CHORE_TICKS, SupplierService } from '../../../node/supplier/service.ts'
import type { SupplierNet } from '../../../node/supplier/service.ts'
import type { FragmentMeta, FragmentStore } from '../../../node/storage/fragment-store/index.ts'
import { loadConfig } from '../../../node/config/index.ts'
import { packedProof, randomFragment, startTestNetwork } from '../chain/helpers/network.ts'
import type { TestNetwork } from '../chain/helpers/network.ts'

const KiB = 1024

async function * once (bytes: Uint8Array): AsyncGenerator<Uint8Array> { yield bytes }

/** A source that yields `bytes` once `release` resolves: a put held open mid-transfer. */
async function * held (bytes: Uint8Array, release: Promise<void>): AsyncGenerator<Uint8Array> {
  yield bytes.subarray(0, 256)
  await release
  yield bytes.subarray(256)
}

describe('supplier/service against the real contracts: fragments before and after their deal opens, terms, chain reads', function () {
  this.timeout(120_000)
  let net: TestNetwork
  let dir: string
  let db: Level<string, string>
  let service: SupplierService
  let backend: FragmentStore
  let config: { datadir: string, supply: { enabled: boolean, quota: bigint, price: bigint, stake: bigint } }

  before(async function () {
    net = await startTestNetwork(DEVNET_PARAMS, 0)
    dir = await mkdtemp(join(tmpdir(), 'bitdust-supplier-'))
    db = new Level<string, string>(join(dir, 'db'))
    // 4 MiB donated: at most 1 MiB may be taken in for deals not yet open.
    config = { datadir: dir, supply: { enabled: true, quota: 4n * 1024n * 1024n, price: 1n, stake: 0n } }
    service = new SupplierService({ chain: net.supplierA, db, config, identity: undefined, jobs: undefined } as unknown as NodeServices & { chain: typeof net.supplierA })
    await service.store.start()
    backend = service.backend
  })
  after(async function () {
    await service?.store.stop()
    await db?.close()
    await net?.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('takes a fragment for a deal not open yet and keeps it once the deal names the root it hashed', async () => {
    const f = randomFragment(2048) // 512 KiB
    const salt = `0x${randomBytes(32).toString('hex')}` as Hex
    const upload = uploadView(net.consumer)
    const dealId = upload.dealIdFor(salt)
    const owner = net.consumer.address!.toLowerCase()
    const meta = { dealId, slot: 0, size: f.data.length, root: ROOT_LATER, owner }
    // Until the consumer commits, only the deal is read (there is none yet): no slot, no status,
    // and once: the accept that follows the announcement uses the read the check just made.
    const market = net.supplierA.market
    const reads: string[] = []
    for (const name of ['getDeal', 'getSlot', 'dealStatus'] as const) {
      const original = market[name].bind(market) as (...args: unknown[]) => Promise<unknown>
      ;(market as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => { reads.push(name); return await original(...args) }
    }
    await backend.check(meta)
    const hashed: string[] = []
    const stored = await backend.accept(meta, once(f.data), {
      confirm: async (root) => {
        expect(reads).to.deep.equal(['getDeal'])
        hashed.push(root)
        // The consumer opens the deal with the roots, then commits.
        await upload.openDeal({ k: 1, m: 1, fragmentSize: BigInt(f.data.length), periods: 10, price: 1n, collateralPerByte: 1n }, [root as Hex, f.root], salt)
      },
    })
    // The commit's check reads everything afresh: the deal has just opened.
    expect(reads).to.deep.equal(['getDeal', 'getDeal', 'getSlot', 'dealStatus'])
    for (const name of ['getDeal', 'getSlot', 'dealStatus'] as const) delete (market as unknown as Record<string, unknown>)[name]
    expect(hashed).to.deep.equal([f.root])
    expect(stored.root).to.equal(f.root)
    expect((await backend.stat(dealId, 0)).root).to.equal(f.root)
  })

  it('reads the deal again for bytes that start long after their put was announced', async () => {
    const f = randomFragment(16)
    const meta = { dealId: `0x${randomBytes(32).toString('hex')}`, slot: 0, size: f.data.length, root: ROOT_LATER, owner: net.consumer.address!.toLowerCase() }
    const market = net.supplierA.market
    let reads = 0
    const original = market.getDeal.bind(market)
    market.getDeal = async (...args: Parameters<typeof original>) => { reads++; return await original(...args) }
    try {
      await backend.check(meta)
      await new Promise((resolve) => setTimeout(resolve, 2100))
      const err = await backend.accept(meta, once(f.data), { confirm: async () => { throw new Error('no deal after all') } }).then(() => undefined, (e: Error) => e)
      expect(err?.message).to.equal('no deal after all')
    } finally {
      delete (market as unknown as Record<string, unknown>).getDeal
    }
    expect(reads).to.equal(2)
  })

  it('refuses, before any byte, more than a quarter of its space for deals not open yet, and frees it when such a fragment goes', async () => {
    const owner = net.consumer.address!.toLowerCase()
    const big = randomFragment(3 * 1024) // 768 KiB
    const first = { dealId: `0x${randomBytes(32).toString('hex')}`, slot: 0, size: big.data.length, root: ROOT_LATER, owner }
    let release!: () => void
    const released = new Promise<void>((resolve) => { release = resolve })
    const taking = backend.accept(first, held(big.data, released), { confirm: async () => { throw new Error('the consumer went away') } })
    taking.catch(() => {})
    // While 768 KiB are being taken in, another 768 KiB would pass the 1 MiB share.
    const second = { ...first, dealId: `0x${randomBytes(32).toString('hex')}` }
    let refused: Error | undefined
    await backend.check(second).catch((err: Error) => { refused = err })
    expect(refused?.name).to.equal('NotAcceptingError')
    expect(refused?.message).to.match(/deals not yet opened/)
    release()
    await taking.then(() => expect.fail('kept without a commit'), (err: Error) => { expect(err.message).to.equal('the consumer went away') })
    // Nothing kept, and the share is free again.
    expect((await readdir(join(dir, 'fragments'))).filter((n) => n.includes(first.dealId.slice(2, 10)))).to.deep.equal([])
    await backend.check(second)
  })

  it('drops a fragment whose consumer commits but whose deal names another root for its slot', async () => {
    const f = randomFragment(16)
    const other = randomFragment(16)
    const salt = `0x${randomBytes(32).toString('hex')}` as Hex
    const upload = uploadView(net.consumer)
    const meta = { dealId: upload.dealIdFor(salt), slot: 0, size: f.data.length, root: ROOT_LATER, owner: net.consumer.address!.toLowerCase() }
    const err = await backend.accept(meta, once(f.data), {
      confirm: async () => { await upload.openDeal({ k: 1, m: 1, fragmentSize: BigInt(f.data.length), periods: 10, price: 1n, collateralPerByte: 1n }, [other.root, other.root], salt) },
    }).then(() => undefined, (e: Error) => e)
    expect(err?.message).to.match(/another root on chain/)
    expect(await backend.has(meta.dealId, 0)).to.equal(false)
  })

  /** The API's `POST /supply/offer` (what `bitdust supply offer` calls). */
  const offer = async (body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const route = service.routes.find((r) => r.method === 'POST' && r.path === '/supply/offer')
    return await route!.handler({ params: {}, query: new URLSearchParams(), body, raw: undefined as never, signal: new AbortController().signal }) as Record<string, unknown>
  }

  it('announces its offer when its terms change, not on every check (the network refreshes an unchanged one)', async () => {
    const announced: Array<{ capacity: bigint, price: bigint, stake: bigint }> = []
    service.attach({ publishOffer: async (terms: { capacity: bigint, price: bigint, stake: bigint }) => { announced.push(terms) } } as unknown as SupplierNet, () => new Uint8Array())
    await service.publishOffer()
    await service.publishOffer()
    expect(announced).to.have.length(1)
    await service.publishOffer(true) // asked for through the API
    expect(announced).to.have.length(2)
  })

  it('`supply offer` takes a new price and quota at once, keeps them in config.json for the next start, and announces them', async () => {
    const announced: Array<{ capacity: bigint, price: bigint }> = []
    service.attach({ publishOffer: async (terms: { capacity: bigint, price: bigint, stake: bigint }) => { announced.push(terms) } } as unknown as SupplierNet, () => new Uint8Array())
    await writeFile(join(dir, 'config.json'), JSON.stringify({ listen: ['/ip4/127.0.0.1/tcp/0'] }))
    try {
      const r = await offer({ price: '3', quota: '8MiB' })
      expect(r).to.include({ price: 3n, quota: 8 * 1024 * 1024 })
      expect(announced.at(-1)?.price).to.equal(3n)
      expect(announced.at(-1)?.capacity).to.equal(BigInt(8 * 1024 * 1024 - service.store.usage().used))
      // Merged into what was there, and read back by the next start.
      expect(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'))).to.deep.equal({ listen: ['/ip4/127.0.0.1/tcp/0'], price: '3', quota: '8388608' })
      const next = loadConfig({ datadir: dir, env: {} })
      expect([next.supply.price, next.supply.quota]).to.deep.equal([3n, 8n * 1024n * 1024n])
      // Only what is given changes; bad values are refused and change nothing.
      expect(await offer({ quota: '4MiB' })).to.include({ price: 3n, quota: 4 * 1024 * 1024 })
      for (const bad of [{ price: 'abc' }, { price: '0' }, { quota: '-1' }]) {
        const err = await offer(bad).then(() => undefined, (e: Error) => e)
        expect(err?.name, JSON.stringify(bad)).to.be.oneOf(['ConfigError', 'BadRequestError'])
      }
      expect(await offer({})).to.include({ price: 3n, quota: 4 * 1024 * 1024 })
    } finally {
      await offer({ price: '1', quota: '4MiB' })
    }
  })

  it('holds a deal to its own price, whatever offer the consumer saw, and bounds the collateral a deal may lock', async () => {
    const upload = uploadView(net.consumer)
    const owner = net.consumer.address!.toLowerCase()
    const openWith = async (price: bigint, collateralPerByte: bigint): Promise<{ meta: FragmentMeta, data: Uint8Array }> => {
      const f = randomFragment(4)
      const salt = `0x${randomBytes(32).toString('hex')}` as Hex
      const dealId = await upload.openDeal({ k: 1, m: 1, fragmentSize: BigInt(f.data.length), periods: 2, price, collateralPerByte }, [f.root, f.root], salt)
      return { meta: { dealId, slot: 0, size: f.data.length, root: f.root, owner }, data: f.data }
    }
    service.attach({ publishOffer: async () => {} } as unknown as SupplierNet, () => new Uint8Array())
    await offer({ price: '5' })
    try {
      const cheap = await openWith(4n, 4n)
      const refused = await backend.check(cheap.meta).then(() => undefined, (e: Error) => e)
      expect(refused?.name).to.equal('NotAcceptingError')
      expect(refused?.message).to.match(/pays 4 per byte-period; this supplier asks 5/)
      // Bytes sent without the check are refused the same way, and nothing is kept.
      const err = await backend.accept(cheap.meta, once(cheap.data), {}).then(() => undefined, (e: Error) => e)
      expect(err?.message).to.match(/this supplier asks 5/)
      expect(await backend.has(cheap.meta.dealId, 0)).to.equal(false)
      const locking = await openWith(5n, 5n * 21n)
      expect((await backend.check(locking.meta).then(() => undefined, (e: Error) => e))?.message).to.match(/asks 105 collateral per byte, more than 20 periods of its price/)
      await backend.check((await openWith(5n, 5n * 20n)).meta) // at the bound: taken
      // Nor does it repair a slot of such a deal for the bounty: it stops before reading further.
      const market = net.supplierA.market
      const original = market.dealStatus.bind(market)
      let statusReads = 0
      market.dealStatus = async (...args: Parameters<typeof original>) => { statusReads++; return await original(...args) }
      try {
        const repair = async (): Promise<Error | undefined> => await (service as unknown as { repair: (s: { dealId: Hex, index: number }) => Promise<void> })
          .repair({ dealId: cheap.meta.dealId as Hex, index: 0 }).then(() => undefined, (e: Error) => e)
        expect((await repair())?.message).to.match(/not repairing deal .* this supplier asks 5/)
        expect(statusReads).to.equal(0)
        await offer({ price: '4' })
        expect((await repair())?.name).to.equal('RepairNotOursError')
        expect(statusReads).to.equal(1) // at its price: it goes on to the deal's state (filling, so nothing to repair)
      } finally {
        delete (market as unknown as Record<string, unknown>).dealStatus
      }
    } finally {
      await offer({ price: '1' })
    }
  })

  it('once begun, reads the block once per tick for its proofs and once per CHORE_TICKS ticks for its chores', async () => {
    const chain = net.supplierA
    const original = chain.blockNumber.bind(chain)
    let reads = 0
    chain.blockNumber = async (...args: Parameters<typeof original>) => { reads++; return await original(...args) }
    // Above the prover's 200 ms floor, so that both loops follow tickMs.
    const tickMs = 400
    const busy = new SupplierService({ chain, db, config, identity: undefined, jobs: undefined } as unknown as NodeServices & { chain: typeof chain }, { tickMs })
    busy.attach({ peerId: 'p', publishOffer: async () => {} } as unknown as SupplierNet, () => randomBytes(34))
    try {
      await busy.store.start()
      await busy.begin()
      reads = 0
      await new Promise((resolve) => setTimeout(resolve, 10 * tickMs))
    } finally {
      await busy.stop()
      chain.blockNumber = original
    }
    // 10 ticks: ~10 reads for the prover and ~10 / CHORE_TICKS for the chores (timers on a loaded
    // machine only fire later, never sooner). Twice per tick and chores every 3, as before: ~23.
    expect(CHORE_TICKS).to.be.at.least(2)
    expect(reads).to.be.greaterThan(0)
    expect(reads).to.be.at.most(10 + Math.ceil(10 / CHORE_TICKS) + 2)
  })

  it('on a chain slower than its chores, reads the head for them at most once per block time', async () => {
    const chain = net.supplierA
    const original = chain.blockNumber.bind(chain)
    let reads = 0
    chain.blockNumber = async (...args: Parameters<typeof original>) => { reads++; return await original(...args) }
    const prover = (service as unknown as { prover: { blockTimeMs: () => number | undefined } }).prover
    let blockMs: number | undefined = 12_000 // a 12 s chain; the chores run every 5 s by default
    prover.blockTimeMs = () => blockMs
    try {
      await net.chain.provider.request({ method: 'hardhat_mine', params: [numberToHex(1n)] })
      await service.tick()
      expect(reads).to.equal(1) // found a new head
      await net.chain.provider.request({ method: 'hardhat_mine', params: [numberToHex(1n)] })
      await service.tick()
      await service.tick()
      expect(reads).to.equal(1) // within one block time of it: not read
      blockMs = 1_000 // as fast as the devnet: every look reads
      await service.tick()
      await service.tick()
      expect(reads).to.equal(3)
    } finally {
      chain.blockNumber = original
    }
  })

  it('reads a held deal once while it is active, again once it can have ended, was cancelled or extended, and lets it go only when over', async () => {
    const market = net.supplierA.market
    const upload = uploadView(net.consumer)
    const owner = net.consumer.address!.toLowerCase()
    /** Two deals of two slots, slot 0 held by this supplier (its service fills it on accept), slot 1 by supplier B: both active. */
    const activeDeal = async (): Promise<Hex> => {
      const f = randomFragment(4)
      const g = randomFragment(4)
      const salt = `0x${randomBytes(32).toString('hex')}` as Hex
      const dealId = await upload.openDeal({ k: 1, m: 1, fragmentSize: BigInt(f.data.length), periods: 2, price: 1n, collateralPerByte: 1n }, [f.root, g.root], salt)
      await backend.accept({ dealId, slot: 0, size: f.data.length, root: f.root, owner }, once(f.data), {})
      await net.supplierB.market.fill(dealId, 1, (segment) => packedProof(g, segment))
      for (let i = 0; (await market.getSlot(dealId, 0)).holder === zeroAddress; i++) {
        if (i > 100) throw new Error('the service did not fill its slot')
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(await market.dealStatus(dealId)).to.equal('Active')
      return dealId
    }
    for (const x of [net.supplierA, net.supplierB]) {
      if (!await x.staking.isRegistered(x.address!)) await x.staking.register({ peerId: '0x0024bb', capacity: 10n ** 9n, pricePerBytePeriod: 1n })
      await x.staking.stake(100n * DUST)
    }
    const ending = await activeDeal()
    const cancelled = await activeDeal()
    const extended = await activeDeal()
    const original = market.dealStatus.bind(market)
    const reads: Hex[] = []
    market.dealStatus = async (id: Hex, ...rest: unknown[]) => { reads.push(id); return await original(id, ...(rest as [])) }
    const readsOf = (id: Hex): number => reads.filter((x) => x === id).length
    try {
      await service.releaseEnded()
      await service.releaseEnded()
      await service.releaseEnded()
      expect([readsOf(ending), readsOf(cancelled), readsOf(extended)]).to.deep.equal([1, 1, 1]) // active until their end period: read once
      await net.consumer.market.extendDeal(extended, 4) // its consumer keeps it 4 periods more, after the supplier read its end
      // A cancel is an event: the next pass over the events reads that deal again and lets it go.
      await net.consumer.market.cancelDeal(cancelled)
      await service.tick()
      expect(readsOf(cancelled)).to.equal(2)
      expect(await backend.has(cancelled, 0)).to.equal(false)
      expect((await market.getSlot(cancelled, 0)).holder).to.equal(zeroAddress) // released: collateral back
      // Past its end period the other one is read again, and released.
      await net.chain.provider.request({ method: 'hardhat_mine', params: [numberToHex(3n * DEVNET_PARAMS.market.periodBlocks)] })
      await service.releaseEnded()
      expect(readsOf(ending)).to.equal(2)
      expect(await backend.has(ending, 0)).to.equal(false)
      expect(readsOf(cancelled)).to.equal(2) // gone from the store: never read again
      // The extended one is read at its old end too, found active, and kept until its new end.
      expect(readsOf(extended)).to.equal(2)
      expect(await backend.has(extended, 0)).to.equal(true)
      await service.releaseEnded()
      expect(readsOf(extended)).to.equal(2)
      await net.chain.provider.request({ method: 'hardhat_mine', params: [numberToHex(4n * DEVNET_PARAMS.market.periodBlocks)] })
      await service.releaseEnded()
      expect(readsOf(extended)).to.equal(3)
      expect(await backend.has(extended, 0)).to.equal(false)
    } finally {
      delete (market as unknown as Record<string, unknown>).dealStatus
    }
  })

  it('refuses a fragment for a deal that is not open unless it is sent ahead of it (ROOT_LATER)', async () => {
    const f = randomFragment(4)
    const meta = { dealId: `0x${randomBytes(32).toString('hex')}`, slot: 0, size: f.data.length, root: f.root, owner: net.consumer.address!.toLowerCase() }
    let refused: Error | undefined
    await backend.check(meta).catch((err: Error) => { refused = err })
    expect(refused?.message).to.match(/There is no deal/)
  })
})
