/**
 * Upload: stream fragment i to supplier i in parallel straight from one encoding pass of the
 * file, which also hashes them; open the deal (escrow) with those roots as soon as the pass ends,
 * have each supplier keep its fragment once the deal names the root it hashed, wait until every
 * slot is filled on chain, then store the sealed manifest with the holders.
 *
 * The deal's id derives from a salt chosen here, so suppliers know which deal a fragment is for
 * before it exists: one pass over the file instead of one for the roots and one to send. A
 * supplier that fails (refuses, vanishes mid-transfer, never fills) is replaced by another, fed
 * by a further pass, until the deal's fill deadline. A deal that cannot be filled is rolled back
 * by the caller (node/consumer/service.ts cancels it), or refunded by the contract after the deadline.
 */
import { randomBytes } from 'node:crypto'
import type { Address, Hex } from 'viem'
import { log } from '../log.ts'
import { ROOT_LATER } from '../proofs/constants.ts'
import { eligible, selectSuppliers } from './select.ts'
import type { DealTerms, Progress, PutReceipt, SupplierOffer } from './types.ts'

const logger = log('consumer:upload')

/** One pass over the file: a byte stream per requested fragment. */
export interface FragmentPass {
  streams: Map<number, AsyncIterable<Uint8Array> & { detach?: () => void }>
  /**
   * Settles when the pass has ended: with every fragment's root if it went through the whole
   * file (undefined if every reader left early); rejects if the file could not be encoded.
   */
  done: Promise<{ roots: Hex[] } | undefined>
}

/** The fragments of an encoded file, made on demand (node/storage/fanout.ts). */
export interface FragmentSource {
  size: number
  fragmentSize: number
  /** Known before any pass only when resuming into an open deal; otherwise a pass gives them. */
  roots?: Hex[]
  /** Starts a pass that yields the fragments in `indices`; with `roots`, it hashes every fragment. */
  open: (indices: number[], options: { roots: boolean, signal?: AbortSignal }) => Promise<FragmentPass>
}

export interface UploadChain {
  readonly address: Address
  /** The id openDeal gives for `salt`, known before the deal is opened. */
  dealIdFor: (salt: Hex) => Hex
  openDeal: (terms: DealTerms, roots: Hex[], salt: Hex, signal?: AbortSignal) => Promise<Hex>
  /** Current holder of every slot (undefined while free); with `only`, of those slots alone. */
  slotHolders: (dealId: Hex, only?: number[]) => Promise<Array<Address | undefined>>
  /** The deal's slots filled in blocks fromBlock..toBlock, and by whom (the chain's SlotFilled events). */
  fillsBetween: (dealId: Hex, fromBlock: bigint, toBlock: bigint) => Promise<Array<{ index: number, holder: Address }>>
  blockNumber: () => Promise<bigint>
  deadlineBlock: (dealId: Hex) => Promise<bigint>
}

export interface UploadNet {
  /** Live offers; looks further (gossip aside) unless at least `atLeast` are known already. */
  offers: (atLeast?: number) => Promise<SupplierOffer[]>
  /**
   * With root ROOT_LATER the supplier reports the root it hashed and keeps the fragment once
   * `commit` resolves (throwing drops it).
   */
  putFragment: (peerId: string, meta: { dealId: Hex, slot: number, size: number, root: Hex }, source: AsyncIterable<Uint8Array>,
    options: { onBytes?: (n: number) => void, signal?: AbortSignal, commit?: (root: string) => Promise<void> }) => Promise<PutReceipt>
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
  /** How often offers and the deal's fills are polled (default 100 ms; one shared poll for all the fragments). */
  pollMs?: number
  /**
   * A supplier accepted fragment `slot` into the open deal (its slot fills next): the caller may
   * start storing what goes with the fragment (the sealed manifest) while the fills are awaited.
   */
  onAccepted?: (slot: number, holder: { peerId: string, address: Address }) => void
}

/**
 * Polls while a fill is most likely on its way: a supplier fills its slot a few blocks after
 * accepting the fragment (~0.1 s on an automining devnet), so polling only every pollMs added
 * up to a whole interval to every upload; after FAST_FILL_WINDOW_MS, every pollMs.
 */
export const FILL_POLL_MS = 20
export const FAST_FILL_WINDOW_MS = 3000

export class UploadFailedError extends Error {
  override name = 'UploadFailedError'
}

export interface Placement { dealId: Hex, holders: Address[], receipts: PutReceipt[] }

/** Fills every slot of a new deal (opened once the first pass has the roots) or of one being resumed. */
export async function place (source: FragmentSource, chain: UploadChain, net: UploadNet, options: UploadOptions): Promise<Placement> {
  const { terms, signal } = options
  const onProgress = options.onProgress ?? (() => {})
  const n = terms.k + terms.m
  if (options.dealId !== undefined && source.roots?.length !== n) throw new UploadFailedError(`resuming deal ${options.dealId} needs its ${n} roots`)
  const pollMs = options.pollMs ?? 100
  const fillPollMs = Math.min(pollMs, FILL_POLL_MS)
  const fragmentSize = BigInt(source.fragmentSize)
  const needs = { fragmentSize, maxPrice: terms.price, collateral: terms.collateralPerByte * fragmentSize }

  onProgress({ stage: 'suppliers', message: 'choosing suppliers' })
  // Fills are followed from the deal's events after this block; a resumed deal's earlier ones
  // are in the slots read just after it.
  let scanned = await chain.blockNumber()
  const before = options.dealId === undefined ? new Array<Address | undefined>(n).fill(undefined) : await chain.slotHolders(options.dealId)
  const todo = before.flatMap((h, i) => h === undefined ? [i] : [])
  const taken = new Set(before.filter((h): h is Address => h !== undefined).map((h) => h.toLowerCase()))
  // Offers arrive by gossip and DHT lookups: a node that just started may not know enough yet.
  const waitUntil = Date.now() + (options.offerWaitMs ?? 30_000)
  let picked: SupplierOffer[]
  let atLeast = todo.length + taken.size
  for (;;) {
    const offers = await net.offers(atLeast)
    try {
      picked = selectSuppliers(offers, { ...needs, count: todo.length, exclude: taken })
      break
    } catch (err) {
      if ((err as Error).name !== 'NotEnoughSuppliersError' || Date.now() > waitUntil) throw err
      // Those known cannot take it: ask for more than are known, which looks further.
      atLeast = offers.length + 1
      onProgress({ stage: 'suppliers', message: 'waiting for supplier offers' })
      await sleep(pollMs, signal)
    }
  }

  // A new deal's id is fixed by the salt before it exists: the fragments go out under it while
  // the pass hashes them.
  const salt = `0x${randomBytes(32).toString('hex')}` as Hex
  const deal = options.dealId ?? chain.dealIdFor(salt)
  let roots = source.roots
  let deadline = options.dealId !== undefined ? await chain.deadlineBlock(deal) : undefined
  /** Why the deal could not be opened: ends the upload (no supplier can help). */
  let openFailed: Error | undefined

  const total = source.fragmentSize * n
  const sent = new Array<number>(n).fill(0)
  const report = (): void => { onProgress({ stage: 'transfer', done: sent.reduce((a, b) => a + b, 0), total }) }
  const tried = new Set<string>(picked.map((o) => o.peerId))
  for (const a of taken) tried.add(a)
  const receipts = new Array<PutReceipt | undefined>(n)
  /** Fragments whose supplier refused them only because their deal was not open yet. */
  const ahead = new Set<number>()
  const failures = new Map<number, string[]>()

  const replacement = async (): Promise<SupplierOffer | undefined> => {
    // The offers known first; if none of them is left, look further once.
    let offers = await net.offers(tried.size + 1)
    if (eligible(offers, { ...needs, exclude: tried }).length === 0) offers = await net.offers(offers.length + 1)
    try {
      const [next] = selectSuppliers(offers, { ...needs, count: 1, exclude: tried })
      if (next !== undefined) tried.add(next.peerId)
      return next
    } catch {
      return undefined
    }
  }

  /** Opens the deal with the roots of a pass that went through the whole file; false if it did not. */
  const openWith = async (pass: FragmentPass): Promise<boolean> => {
    const result = await pass.done
    if (result === undefined) return false
    if (result.roots.length !== n) throw new UploadFailedError(`expected ${n} fragment roots, the pass gave ${result.roots.length}`)
    onProgress({ stage: 'deal', message: 'opening the storage deal on chain (escrow)' })
    const id = await chain.openDeal({ ...terms, fragmentSize }, result.roots, salt, signal)
    if (id.toLowerCase() !== deal.toLowerCase()) throw new UploadFailedError(`the deal opened as ${id}, not the announced ${deal}`)
    roots = result.roots
    deadline = await chain.deadlineBlock(deal)
    logger('deal %s opened', deal)
    onProgress({ stage: 'fill', message: 'deal opened; the suppliers are checking their fragments and filling their slots' })
    return true
  }

  // Every fragment waits for its slot, and one poll serves them all: the head block (which also
  // tells the fill deadline) and, only when it moved, the deal's SlotFilled events of the new
  // blocks (one eth_getLogs the endpoint filters). Reading the deal's count of filled slots and
  // then its free slots instead cost ~300 contract calls per 14-slot upload, run by the endpoint
  // just when the suppliers' fill transactions were waiting on it.
  type Poll = { holders: Array<Address | undefined>, block: bigint }
  let polled: { at: number, result: Promise<Poll> } | undefined
  const seenFilled = [...before]
  /** interval: the caller's; a read younger than half of it is shared. */
  const poll = async (interval: number): Promise<Poll> => {
    if (polled === undefined || Date.now() - polled.at >= interval / 2) {
      polled = {
        at: Date.now(),
        result: (async () => {
          const head = await chain.blockNumber()
          if (head > scanned) {
            for (const f of await chain.fillsBetween(deal, scanned + 1n, head)) {
              if (f.index >= 0 && f.index < n) seenFilled[f.index] = f.holder
            }
            scanned = head
          }
          return { holders: [...seenFilled], block: head }
        })(),
      }
    }
    return await polled.result
  }

  const waitFilled = async (i: number, holder: Address): Promise<void> => {
    const started = Date.now()
    const until = started + (options.fillTimeoutMs ?? 120_000)
    for (;;) {
      const interval = Date.now() - started < FAST_FILL_WINDOW_MS ? fillPollMs : pollMs
      const { holders, block } = await poll(interval)
      const h = holders[i]
      if (h !== undefined) {
        if (h.toLowerCase() !== holder.toLowerCase()) logger('slot %d filled by %s instead of %s', i, h, holder)
        return
      }
      if (Date.now() > until) throw new UploadFailedError(`the supplier accepted fragment ${i} but did not fill its slot in time`)
      if (deadline !== undefined && block >= deadline) throw new UploadFailedError(`the deal's fill deadline (block ${deadline}) passed`)
      await sleep(interval, signal)
    }
  }

  /** Fragment i to `offer` from this pass; resolves false if the supplier failed. */
  const placeOne = async (pass: FragmentPass, opening: Promise<boolean> | undefined, i: number, offer: SupplierOffer): Promise<boolean> => {
    const stream = pass.streams.get(i)
    if (stream === undefined) throw new Error(`the pass has no stream for fragment ${i}`)
    // Before the deal is open the supplier hashes the fragment itself and keeps it once the deal
    // names the same root; after, it checks the bytes against the root on chain.
    const commit = opening === undefined
      ? undefined
      : async (root: string): Promise<void> => {
        if (!await opening) throw new UploadFailedError('the pass over the file stopped before every fragment was made')
        if (root.toLowerCase() !== roots?.[i]?.toLowerCase()) throw new UploadFailedError(`the supplier's copy of fragment ${i} hashes to ${root}, not ${roots?.[i]}`)
      }
    try {
      sent[i] = 0
      const root = opening === undefined ? roots?.[i] : ROOT_LATER
      if (root === undefined) throw new Error(`no root for fragment ${i}`)
      receipts[i] = await net.putFragment(offer.peerId, { dealId: deal, slot: i, size: source.fragmentSize, root: root as Hex }, stream,
        { onBytes: (b) => { sent[i] = b; report() }, ...(signal ? { signal } : {}), ...(commit !== undefined ? { commit } : {}) })
      options.onAccepted?.(i, { peerId: offer.peerId, address: offer.address })
      await waitFilled(i, offer.address)
      return true
    } catch (err) {
      // The pass must not wait for a reader that is gone.
      stream.detach?.()
      if (signal?.aborted === true) throw err
      if (opening !== undefined) await opening.catch(() => {})
      if (openFailed !== undefined) throw openFailed
      // Refused only because the deal was not open yet: the same supplier gets it with its root.
      if (opening !== undefined && (err as Error).name === 'NotAcceptingError') {
        ahead.add(i)
        logger('fragment %d: %s refuses it ahead of the deal: %s', i, offer.peerId, (err as Error).message)
        return false
      }
      logger('fragment %d on %s failed: %s', i, offer.peerId, (err as Error).message)
      failures.set(i, [...(failures.get(i) ?? []), `${offer.peerId.slice(-8)}: ${(err as Error).message}`])
      onProgress({ stage: 'transfer', message: `supplier ${offer.peerId.slice(-8)} failed for fragment ${i} (${(err as Error).message}); trying another` })
      if (roots === undefined) return false // the deal is not open: no slot to look at
      const holders = await chain.slotHolders(deal)
      return holders[i] !== undefined // filled after all
    }
  }

  // Each round is one pass over the file feeding every fragment still to place; fragments whose
  // supplier failed go to a replacement in the next round. Until a pass has given the roots and
  // the deal is open, passes also hash, and their fragments wait for the deal at the supplier.
  let round: Array<[number, SupplierOffer]> = todo.map((slot, j) => [slot, picked[j] as SupplierOffer])
  let first = true
  while (round.length > 0) {
    signal?.throwIfAborted()
    if (roots === undefined && !first) {
      // Every supplier refused or dropped its fragment before the pass was over (a supplier
      // limits what it takes for deals not yet open): a pass only for the roots opens the deal,
      // and the fragments then go as they do into an open deal.
      onProgress({ stage: 'encode', message: 'hashing the fragments to open the deal first' })
      const hashing = await source.open([], { roots: true, ...(signal ? { signal } : {}) })
      if (!await openWith(hashing)) throw new UploadFailedError('the pass over the file for the fragments\' roots stopped early')
    }
    first = false
    const pass = await source.open(round.map(([i]) => i), { roots: roots === undefined, ...(signal ? { signal } : {}) })
    let opening: Promise<boolean> | undefined
    if (roots === undefined) {
      opening = openWith(pass)
      opening.catch((err: unknown) => { openFailed = err as Error })
    }
    const placed = await Promise.all(round.map(async ([i, o]) => await placeOne(pass, opening, i, o)))
    // A pass that failed on its own (the file changed, a read error) is not the suppliers' fault.
    await pass.done
    if (opening !== undefined) await opening
    const next: Array<[number, SupplierOffer]> = []
    for (const [j, [i, same]] of round.entries()) {
      if (placed[j] === true) continue
      if (ahead.delete(i)) { next.push([i, same]); continue }
      const offer = await replacement()
      if (offer === undefined) {
        const outcome = roots === undefined ? 'no deal was opened' : 'the deal could not be filled'
        throw new UploadFailedError(`no supplier left to hold fragment ${i} (${(failures.get(i) ?? []).join('; ')}); ${outcome}`)
      }
      next.push([i, offer])
    }
    round = next
  }
  // Every slot was seen filled, by its event or (resuming) by the read at the start.
  const holders = seenFilled.every((h) => h !== undefined) ? seenFilled as Address[] : (await chain.slotHolders(deal)).map((h) => h as Address)
  onProgress({ stage: 'fill', message: `all ${n} slots filled` })
  return { dealId: deal, holders, receipts: receipts.filter((r): r is PutReceipt => r !== undefined) }
}

async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }, { once: true })
  })
}
