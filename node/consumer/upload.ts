/**
 * Upload: encrypt + erasure-code locally, open the deal (escrow), place fragment i on supplier i
 * in parallel, wait until every slot is filled on chain, then store the sealed manifest with the
 * holders. A supplier that fails (refuses, vanishes mid-transfer, never fills) is replaced by
 * another until the deal's fill deadline; if the deal cannot be filled it is rolled back (the
 * contract refunds everything once the deadline passes).
 */
import { rm } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import type { Address, Hex } from 'viem'
import { log } from '../log.ts'
import { selectSuppliers } from './select.ts'
import type { DealTerms, FragmentOnDisk, Progress, PutReceipt, SupplierOffer } from './types.ts'

const logger = log('consumer:upload')

export interface EncodedFile {
  size: number
  fragmentSize: number
  fragments: FragmentOnDisk[]
}

export interface UploadChain {
  readonly address: Address
  openDeal: (terms: DealTerms, roots: Hex[], signal?: AbortSignal) => Promise<Hex>
  /** Current holder of every slot (undefined while free). */
  slotHolders: (dealId: Hex) => Promise<Array<Address | undefined>>
  blockNumber: () => Promise<bigint>
  deadlineBlock: (dealId: Hex) => Promise<bigint>
}

export interface UploadNet {
  offers: () => Promise<SupplierOffer[]>
  putFragment: (peerId: string, meta: { dealId: Hex, slot: number, size: number, root: Hex }, source: AsyncIterable<Uint8Array>,
    options: { onBytes?: (n: number) => void, signal?: AbortSignal }) => Promise<PutReceipt>
}

export interface UploadOptions {
  terms: Omit<DealTerms, 'fragmentSize'>
  onProgress?: Progress
  signal?: AbortSignal
  /** Resume into a deal opened before (a restart mid-upload): only its free slots are placed. */
  dealId?: Hex
  /** How long to wait for enough supplier offers before giving up (default 30 s). */
  offerWaitMs?: number
  /** How long to wait for a placed fragment's slot to be filled before replacing its supplier. */
  fillTimeoutMs?: number
  pollMs?: number
}

export class UploadFailedError extends Error {
  override name = 'UploadFailedError'
}

export interface Placement { dealId: Hex, holders: Address[], receipts: PutReceipt[] }

/** Places already-encoded fragments: opens the deal and fills every slot. */
export async function place (encoded: EncodedFile, chain: UploadChain, net: UploadNet, options: UploadOptions): Promise<Placement> {
  const { terms, signal } = options
  const onProgress = options.onProgress ?? (() => {})
  const n = terms.k + terms.m
  if (encoded.fragments.length !== n) throw new UploadFailedError(`expected ${n} fragments, got ${encoded.fragments.length}`)
  const fragmentSize = BigInt(encoded.fragmentSize)
  const needs = { fragmentSize, maxPrice: terms.price, collateral: terms.collateralPerByte * fragmentSize }

  onProgress({ stage: 'suppliers', message: 'choosing suppliers' })
  const before = options.dealId === undefined ? new Array<Address | undefined>(n).fill(undefined) : await chain.slotHolders(options.dealId)
  const todo = before.flatMap((h, i) => h === undefined ? [i] : [])
  const taken = new Set(before.filter((h): h is Address => h !== undefined).map((h) => h.toLowerCase()))
  // Offers arrive by gossip and DHT lookups: a node that just started may not know enough yet.
  const waitUntil = Date.now() + (options.offerWaitMs ?? 30_000)
  let picked: SupplierOffer[]
  for (;;) {
    try {
      picked = selectSuppliers(await net.offers(), { ...needs, count: todo.length, exclude: taken })
      break
    } catch (err) {
      if ((err as Error).name !== 'NotEnoughSuppliersError' || Date.now() > waitUntil) throw err
      onProgress({ stage: 'suppliers', message: 'waiting for supplier offers' })
      await sleep(options.pollMs ?? 500, signal)
    }
  }
  const chosen = new Map(todo.map((slot, j) => [slot, picked[j] as SupplierOffer]))

  let dealId = options.dealId
  if (dealId === undefined) {
    onProgress({ stage: 'deal', message: 'opening the storage deal on chain (escrow)' })
    dealId = await chain.openDeal({ ...terms, fragmentSize }, encoded.fragments.map((f) => f.root), signal)
    logger('deal %s opened', dealId)
  }
  const deal = dealId
  const deadline = await chain.deadlineBlock(deal)

  const total = encoded.fragments.reduce((s, f) => s + f.size, 0)
  const sent = new Array<number>(n).fill(0)
  const report = (): void => { onProgress({ stage: 'transfer', done: sent.reduce((a, b) => a + b, 0), total }) }
  const tried = new Set<string>([...chosen.values()].map((o) => o.peerId))
  for (const a of taken) tried.add(a)
  const receipts = new Array<PutReceipt | undefined>(n)

  const placeOne = async (i: number, first: SupplierOffer): Promise<void> => {
    let offer: SupplierOffer | undefined = first
    const frag = encoded.fragments[i] as FragmentOnDisk
    const failures: string[] = []
    for (;;) {
      signal?.throwIfAborted()
      if (offer === undefined) throw new UploadFailedError(`no supplier left to hold fragment ${i} (${failures.join('; ')}); the deal ${deal} will be refunded after block ${deadline}`)
      try {
        sent[i] = 0
        receipts[i] = await net.putFragment(offer.peerId, { dealId: deal, slot: i, size: frag.size, root: frag.root }, createReadStream(frag.path, { highWaterMark: 1 << 20 }),
          { onBytes: (b) => { sent[i] = b; report() }, ...(signal ? { signal } : {}) })
        await waitFilled(i, offer.address)
        return
      } catch (err) {
        if (signal?.aborted === true) throw err
        logger('fragment %d on %s failed: %s', i, offer.peerId, (err as Error).message)
        failures.push(`${offer.peerId.slice(-8)}: ${(err as Error).message}`)
        onProgress({ stage: 'transfer', message: `supplier ${offer.peerId.slice(-8)} failed for fragment ${i} (${(err as Error).message}); trying another` })
        const holders = await chain.slotHolders(deal)
        if (holders[i] !== undefined) return // filled after all
        const next = await replacement()
        offer = next
      }
    }
  }

  const replacement = async (): Promise<SupplierOffer | undefined> => {
    try {
      const [next] = selectSuppliers(await net.offers(), { ...needs, count: 1, exclude: tried })
      if (next !== undefined) tried.add(next.peerId)
      return next
    } catch {
      return undefined
    }
  }

  const waitFilled = async (i: number, holder: Address): Promise<void> => {
    const until = Date.now() + (options.fillTimeoutMs ?? 120_000)
    for (;;) {
      const holders = await chain.slotHolders(deal)
      const h = holders[i]
      if (h !== undefined) {
        if (h.toLowerCase() !== holder.toLowerCase()) logger('slot %d filled by %s instead of %s', i, h, holder)
        return
      }
      if (Date.now() > until) throw new UploadFailedError(`the supplier accepted fragment ${i} but did not fill its slot in time`)
      if (await chain.blockNumber() >= deadline) throw new UploadFailedError(`the deal's fill deadline (block ${deadline}) passed`)
      await sleep(options.pollMs ?? 500, signal)
    }
  }

  await Promise.all([...chosen].map(async ([i, o]) => { await placeOne(i, o) }))
  const holders = (await chain.slotHolders(deal)).map((h) => h as Address)
  onProgress({ stage: 'fill', message: `all ${n} slots filled` })
  return { dealId: deal, holders, receipts: receipts.filter((r): r is PutReceipt => r !== undefined) }
}

async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }, { once: true })
  })
}

/** Removes the local copies of the fragments once they are placed. */
export async function discardLocal (dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}
