/**
 * Upload: open the deal (escrow) with the fragments' roots, then stream fragment i to supplier i
 * in parallel straight from an encoding pass of the file, wait until every slot is filled on
 * chain, then store the sealed manifest with the holders. A supplier that fails (refuses,
 * vanishes mid-transfer, never fills) is replaced by another, fed by a further pass, until the
 * deal's fill deadline; if the deal cannot be filled it is rolled back (the contract refunds
 * everything once the deadline passes).
 */
import type { Address, Hex } from 'viem'
import { log } from '../log.ts'
import { selectSuppliers } from './select.ts'
import type { DealTerms, Progress, PutReceipt, SupplierOffer } from './types.ts'

const logger = log('consumer:upload')

/** One pass over the file: a byte stream per requested fragment. */
export interface FragmentPass {
  streams: Map<number, AsyncIterable<Uint8Array> & { detach?: () => void }>
  /** Settles when the pass has ended; rejects if the file could not be encoded. */
  done: Promise<unknown>
}

/** The fragments of an encoded file, made on demand (node/storage/fanout.ts). */
export interface FragmentSource {
  size: number
  fragmentSize: number
  roots: Hex[]
  /** Starts a pass that yields the fragments in `indices`. */
  open: (indices: number[], signal?: AbortSignal) => Promise<FragmentPass>
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

/** Opens the deal (unless resuming one) and fills every slot from passes over the file. */
export async function place (source: FragmentSource, chain: UploadChain, net: UploadNet, options: UploadOptions): Promise<Placement> {
  const { terms, signal } = options
  const onProgress = options.onProgress ?? (() => {})
  const n = terms.k + terms.m
  if (source.roots.length !== n) throw new UploadFailedError(`expected ${n} fragments, got ${source.roots.length}`)
  const fragmentSize = BigInt(source.fragmentSize)
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

  let dealId = options.dealId
  if (dealId === undefined) {
    onProgress({ stage: 'deal', message: 'opening the storage deal on chain (escrow)' })
    dealId = await chain.openDeal({ ...terms, fragmentSize }, source.roots, signal)
    logger('deal %s opened', dealId)
  }
  const deal = dealId
  const deadline = await chain.deadlineBlock(deal)

  const total = source.fragmentSize * n
  const sent = new Array<number>(n).fill(0)
  const report = (): void => { onProgress({ stage: 'transfer', done: sent.reduce((a, b) => a + b, 0), total }) }
  const tried = new Set<string>(picked.map((o) => o.peerId))
  for (const a of taken) tried.add(a)
  const receipts = new Array<PutReceipt | undefined>(n)
  const failures = new Map<number, string[]>()

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

  /** Fragment i to `offer` from this pass; resolves false if the supplier failed. */
  const placeOne = async (pass: FragmentPass, i: number, offer: SupplierOffer): Promise<boolean> => {
    const stream = pass.streams.get(i)
    if (stream === undefined) throw new Error(`the pass has no stream for fragment ${i}`)
    try {
      sent[i] = 0
      receipts[i] = await net.putFragment(offer.peerId, { dealId: deal, slot: i, size: source.fragmentSize, root: source.roots[i] as Hex }, stream,
        { onBytes: (b) => { sent[i] = b; report() }, ...(signal ? { signal } : {}) })
      await waitFilled(i, offer.address)
      return true
    } catch (err) {
      // The pass must not wait for a reader that is gone.
      stream.detach?.()
      if (signal?.aborted === true) throw err
      logger('fragment %d on %s failed: %s', i, offer.peerId, (err as Error).message)
      failures.set(i, [...(failures.get(i) ?? []), `${offer.peerId.slice(-8)}: ${(err as Error).message}`])
      onProgress({ stage: 'transfer', message: `supplier ${offer.peerId.slice(-8)} failed for fragment ${i} (${(err as Error).message}); trying another` })
      const holders = await chain.slotHolders(deal)
      return holders[i] !== undefined // filled after all
    }
  }

  // Each round is one pass over the file feeding every fragment still to place; fragments whose
  // supplier failed go to a replacement in the next round.
  let round: Array<[number, SupplierOffer]> = todo.map((slot, j) => [slot, picked[j] as SupplierOffer])
  while (round.length > 0) {
    signal?.throwIfAborted()
    const pass = await source.open(round.map(([i]) => i), signal)
    const placed = await Promise.all(round.map(async ([i, o]) => await placeOne(pass, i, o)))
    // A pass that failed on its own (the file changed, a read error) is not the suppliers' fault.
    await pass.done
    const next: Array<[number, SupplierOffer]> = []
    for (const [j, [i]] of round.entries()) {
      if (placed[j] === true) continue
      const offer = await replacement()
      if (offer === undefined) throw new UploadFailedError(`no supplier left to hold fragment ${i} (${(failures.get(i) ?? []).join('; ')}); the deal ${deal} will be refunded after block ${deadline}`)
      next.push([i, offer])
    }
    round = next
  }
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
