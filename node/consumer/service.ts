/**
 * The consumer as a node service: upload and download jobs, the file list with health, removal,
 * sharing, restoring an identity's files from chain + suppliers, and the watch loop. The pure
 * steps live beside it (place, spotCheck, select); this file joins them to the chain facade, the
 * peer network and the data path.
 */
import { randomBytes } from 'node:crypto'
import { rm, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import type { Address, Hex } from 'viem'
import type { Route } from '../api/server.ts'
import { StreamBody } from '../api/server.ts'
import { BadRequestError } from '../api/errors.ts'
import { JobCancelledError } from '../api/jobs.ts'
import type { ProgressEvent } from '../api/jobs.ts'
import type { NodeService, NodeServices } from '../node.ts'
import type { BitDustChain } from '../chain/client.ts'
import type { DealStatusName } from '../chain/types.ts'
import { keeperView, uploadView, watchView } from '../chain/views.ts'
import { codingFor, hex, type CodingParams } from '../storage/encode.ts'
import { generateFileKey } from '../crypto/file-cipher.ts'
import { hexToBytes } from '../crypto/identity.ts'
import { checkUnchanged, encodeFanOut, type FileStamp } from '../storage/fanout.ts'
import { decodeFile, decodeStream } from '../storage/decode.ts'
import type { FragmentSource } from '../storage/decode.ts'
import { createManifest, grantAccess, openFileKey, openManifest, sealManifest } from '../storage/manifest.ts'
import type { Manifest } from '../storage/manifest.ts'
import { log } from '../log.ts'
import { SEGMENT_SIZE } from '../proofs/constants.ts'
import { FilesDb } from './files-db.ts'
import { fileNameProblem, safeFileName, saveTarget } from './save-path.ts'
import { DealTerms } from './terms.ts'
import type { FileRecord, KV } from './files-db.ts'
import { MANIFEST_SLOT, padManifest, unpadManifest } from './manifests.ts'
import { place } from './upload.ts'
import type { FragmentSource as UploadSource, UploadNet } from './upload.ts'
import { spotCheck } from './watch.ts'
import { Keeper } from './keeper.ts'
import type { SupplierOffer } from './types.ts'

const logger = log('consumer')

/** Files whose health `ls` reads at once. */
const LIST_PARALLEL = 16

/** What the consumer needs of the peer network (node/services.ts adapts the P2P node). */
export interface ConsumerNet extends UploadNet {
  /** The peer id a supplier registered on chain. */
  peerOf: (address: Address) => Promise<string>
  /** range.verify false: the caller hashes the whole fragment itself (the decoder does). */
  getFragment: (peerId: string, dealId: Hex, slot: number, range: { offset?: number, length?: number, root: Hex, verify?: boolean }, signal?: AbortSignal) => AsyncIterable<Uint8Array>
  /** What a holder says it keeps for an owner (signed by it). */
  listing: (peerId: string, owner: Address, signal?: AbortSignal) => Promise<Array<{ dealId: Hex, slot: number, root: Hex }>>
  /**
   * Sends a contact (by public key) a manifest sealed to them, and a line of text saying what it
   * is; delivery is end-to-end encrypted and retried while they are offline.
   */
  sendShare: (publicKey: string, sealedManifest: Uint8Array, text: string) => Promise<void>
  /** Manifests contacts shared with us (still sealed to our key). */
  onShare: (handler: (sealedManifest: Uint8Array, fromPeer: string) => void) => void
}

export interface ConsumerInit {
  /** Periods a deal runs by default. */
  periods?: number
  /** Renew own files whose deals end within a tenth of that term (default true). */
  autoRenew?: boolean
  /** Collateral per byte asked of holders, as a multiple of the price per byte-period. */
  collateralPeriods?: bigint
  /** How often the watch loop spot-checks each file. */
  watchIntervalMs?: number
}

export interface ConsumerComponents extends NodeServices {
  chain: BitDustChain
  net: ConsumerNet
}

export class NoAccessToFileError extends Error {
  override name = 'NoAccessToFileError'
  constructor (id: string) {
    super(`You have no key for file ${id}: its owner has not shared it with you. Ask them to run \`bitdust share ${id} <your name>\`.`)
  }
}

/** A manifest sealed to our key and padded, ready to put on a holder. */
type SealedManifest = ReturnType<typeof padManifest> & { dealId: Hex }

export class ManifestUnavailableError extends Error {
  override name = 'ManifestUnavailableError'
}

export function consumer (init: ConsumerInit = {}): (c: ConsumerComponents) => ConsumerService {
  return (c) => new ConsumerService(c, init)
}

interface Sublevels { files: KV }

export class ConsumerService implements NodeService {
  readonly name = 'consumer'
  private readonly c: ConsumerComponents
  private readonly files: FilesDb
  private readonly periods: number
  private readonly terms: DealTerms
  private readonly collateralPeriods: bigint
  private readonly watchIntervalMs: number
  private watchTimer: NodeJS.Timeout | undefined
  private watching = false
  private readonly keeper: Keeper
  /** Deals of ours seen finalized: nothing is left to watch or take back. */
  private readonly closed = new Set<string>()

  constructor (c: ConsumerComponents, init: ConsumerInit) {
    this.c = c
    const subs: Sublevels = { files: c.db.sublevel<string, string>(`consumer:${c.chain.contracts.market.toLowerCase()}`, { valueEncoding: 'utf8' }) }
    this.files = new FilesDb(subs.files)
    this.periods = init.periods ?? 100
    this.terms = new DealTerms(c.chain, this.files, { periods: this.periods, autoRenew: init.autoRenew ?? true })
    this.collateralPeriods = init.collateralPeriods ?? 10n
    this.watchIntervalMs = init.watchIntervalMs ?? 30_000
    this.keeper = new Keeper(keeperView(c.chain), c.identity.address)
  }

  async start (): Promise<void> {
    this.c.net.onShare((sealed) => { void this.receiveShare(sealed) })
    this.c.jobs.start('restore', async (onProgress) => await this.restore(onProgress))
    for (const p of await this.files.pending()) {
      this.c.jobs.start('resume-upload', async (onProgress, signal) => await this.resume(p.uploadId, onProgress, signal))
    }
    this.watchTimer = setInterval(() => { void this.watchRound() }, this.watchIntervalMs)
    this.watchTimer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.watchTimer)
  }

  // ------------------------------------------------------------------ upload

  async upload (path: string, opts: { name?: string, k?: number, m?: number, periods?: number, price?: bigint }, onProgress: (e: ProgressEvent) => void, signal: AbortSignal): Promise<{ id: Hex, name: string, size: number }> {
    const info = await stat(path).catch(() => undefined)
    if (info?.isFile() !== true) throw new BadRequestError(`${path} is not a file that can be read.`)
    const name = opts.name ?? basename(path)
    const problem = fileNameProblem(name)
    if (problem !== undefined) throw new BadRequestError(problem)
    const k = opts.k ?? this.c.config.k
    const m = opts.m ?? this.c.config.m
    const uploadId = randomBytes(8).toString('hex')
    const stamp: FileStamp = { size: info.size, mtimeMs: info.mtimeMs }
    // One pass encrypts, codes, hashes and sends the fragments as they are made; nothing is
    // written locally, so an upload needs no local space. A later pass (a replacement supplier,
    // a resumed upload) makes the same bytes again from the same key and salt.
    const file = { path, stamp, salt: randomBytes(12), key: generateFileKey() }
    const draft = { name, coding: codingFor(info.size, { k, m }) }
    try {
      return await this.placeAndRecord(uploadId, file, draft, opts, onProgress, signal)
    } catch (err) {
      // Nothing was promised on chain unless the deal opened. An opened deal is resumed at the
      // next start if the node is stopping; otherwise (the user cancelled, no supplier was left)
      // it is rolled back now, and the escrow comes back less what holders earned.
      const pending = (await this.files.pending()).find((p) => p.uploadId === uploadId)
      const opened = pending?.dealId === undefined ? false : await this.c.chain.market.dealStatus(pending.dealId).then((s) => s !== 'None', () => true)
      if (pending !== undefined && !opened) await this.files.delPending(uploadId).catch(() => {})
      const cancelled = signal.reason instanceof JobCancelledError
      const stopping = signal.aborted && !cancelled
      if (pending?.dealId === undefined || !opened || stopping) throw err
      try {
        await this.rollback(pending.dealId, JSON.parse(pending.encoded) as Manifest)
        await this.files.delPending(uploadId)
      } catch (e) {
        // Left pending: the next start rolls it back or completes it.
        logger('rolling back upload %s: %s', pending.dealId, (e as Error).message)
        throw err
      }
      const note = `deal ${pending.dealId} was cancelled, and its escrow comes back once its holders release their slots`
      if (cancelled) throw new JobCancelledError(`cancelled by the user; ${note}`)
      ;(err as Error).message = `${(err as Error).message}; ${note}`
      throw err
    }
  }

  /**
   * Places the file (a new upload: `draft` has no roots yet; a resumed one: the manifest of its
   * open deal) and records it. The pending record that lets a restart resume or roll back is
   * written just before the deal is opened, with the manifest holding the roots.
   */
  private async placeAndRecord (uploadId: string, file: { path: string, stamp: FileStamp, salt: Uint8Array, key: Uint8Array }, draft: { name: string, coding: Omit<CodingParams, 'roots'> } | Manifest, opts: { periods?: number, price?: bigint }, onProgress: (e: ProgressEvent) => void, signal: AbortSignal, dealId?: Hex): Promise<{ id: Hex, name: string, size: number }> {
    const coding = draft.coding
    const { k, m } = coding
    const price = opts.price ?? await this.marketPrice(k + m, BigInt(coding.fragmentSize))
    const periods = opts.periods ?? this.periods
    // A new deal's terms are checked before the pass that sends the fragments: the chain would
    // refuse them only when the deal opens, after every byte had been sent.
    if (dealId === undefined) await this.terms.check({ slots: k + m, fragmentSize: BigInt(coding.fragmentSize), periods, price })
    const chain = uploadView(this.c.chain)
    const files = this.files
    let manifest = 'roots' in coding ? draft as Manifest : undefined
    let deal = dealId
    const recordingChain = {
      ...chain,
      openDeal: async (...args: Parameters<typeof chain.openDeal>): Promise<Hex> => {
        const [, roots, salt] = args
        deal = chain.dealIdFor(salt)
        manifest = createManifest({ name: draft.name, coding: { ...coding, roots }, key: file.key, ownerPublicKey: this.c.identity.publicKey })
        await files.putPending({ uploadId, path: file.path, stamp: file.stamp, salt: hex(file.salt), name: draft.name, encoded: JSON.stringify(manifest), started: Date.now(), dealId: deal })
        return await chain.openDeal(...args)
      },
    }
    const source: UploadSource = {
      size: coding.size,
      fragmentSize: coding.fragmentSize,
      ...(manifest !== undefined ? { roots: manifest.coding.roots } : {}),
      open: async (indices, o) => {
        await checkUnchanged(file.path, file.stamp)
        const fan = encodeFanOut(file.path, { k, m, shardSize: coding.shardSize, chunkSize: coding.chunkSize, key: file.key, salt: file.salt }, indices, { trees: o.roots, ...(o.signal ? { signal: o.signal } : {}) })
        return {
          streams: fan.streams,
          // The roots are of the file as read: refuse them if it changed under the pass.
          done: fan.done.then(async (r) => { if (r !== undefined) await checkUnchanged(file.path, file.stamp); return r }),
        }
      },
    }
    // Each holder gets the sealed manifest as soon as it has accepted its fragment (the deal is
    // open then, and the manifest final), so these puts overlap the wait for the slots' fills;
    // a holder that then fails to fill keeps a manifest it cannot use, and costs nothing.
    const early = new Map<string, Promise<void>>()
    let sealed: SealedManifest | undefined
    const onAccepted = (_slot: number, holder: { peerId: string, address: Address }): void => {
      if (manifest === undefined || deal === undefined || early.has(holder.address.toLowerCase())) return
      // Inside the placement: whatever fails here is left to storeManifest to try and report.
      const m = manifest
      const id = deal
      const put = (async () => { sealed ??= this.sealForHolders({ ...m, dealId: id }); await this.putManifest(holder.peerId, sealed, signal) })()
      put.catch(() => {})
      early.set(holder.address.toLowerCase(), put)
    }
    const placed = await place(source, recordingChain, this.c.net, {
      terms: { k, m, periods, price, collateralPerByte: price * this.collateralPeriods },
      onProgress, onAccepted, signal, ...(dealId !== undefined ? { dealId } : {}),
    })
    if (manifest === undefined) throw new Error('the deal was placed without a manifest')
    const final: Manifest = { ...manifest, dealId: placed.dealId }
    onProgress({ stage: 'manifest', message: 'storing the sealed manifest with the holders' })
    await this.storeManifest(final, placed.holders, signal, early)
    const record: FileRecord = { id: placed.dealId, name: final.name, size: final.size, manifest: final, origin: 'own', state: 'active', created: Date.now() }
    await this.files.put(record)
    await this.files.delPending(uploadId)
    return { id: placed.dealId, name: final.name, size: final.size }
  }

  /**
   * After a crash mid-upload: finish placing into the deal already opened, encoding the file
   * again with the key and salt of its first pass, or give the money back if that cannot be
   * done (the file is gone or changed, or the deal is over).
   */
  private async resume (uploadId: string, onProgress: (e: ProgressEvent) => void, signal: AbortSignal): Promise<unknown> {
    const p = (await this.files.pending()).find((x) => x.uploadId === uploadId)
    if (p === undefined) return { resumed: false }
    // Uploads from versions that spooled fragments to disk: remove the spool, never resume.
    if (p.dir !== undefined) await rm(p.dir, { recursive: true, force: true })
    const manifest = JSON.parse(p.encoded) as Manifest
    // The pending record is written just before openDeal is sent: the deal may not exist.
    const status = p.dealId === undefined ? 'None' : await this.c.chain.market.dealStatus(p.dealId)
    const giveUp = async (): Promise<{ resumed: false, rolledBack: Hex | null }> => {
      const opened = p.dealId !== undefined && status !== 'None'
      // Rolled back (and recorded for finalization) before the pending record goes.
      if (opened) await this.rollback(p.dealId as Hex, manifest)
      await this.files.delPending(uploadId)
      return { resumed: false, rolledBack: opened ? p.dealId as Hex : null }
    }
    if (p.dealId === undefined || p.salt === undefined) return await giveUp()
    if (status !== 'Filling' && status !== 'Active') return await giveUp()
    // Every slot filled before the crash: the upload is complete, whatever became of the local
    // file; only the manifest and the record are left to do. Otherwise the free slots need the
    // same bytes again, which a changed file cannot give.
    const free = (await uploadView(this.c.chain).slotHolders(p.dealId)).some((h) => h === undefined)
    const unchanged = async (): Promise<boolean> => p.path !== undefined && p.stamp !== undefined && await checkUnchanged(p.path, p.stamp).then(() => true, () => false)
    if (free && !await unchanged()) return await giveUp()
    // Same bytes, same deal: place what is still free (nothing, if it filled while we were down).
    const deal = await this.c.chain.market.getDeal(p.dealId)
    const key = openFileKey(manifest, this.c.identity.privateKey)
    const file = { path: p.path as string, stamp: p.stamp as FileStamp, salt: hexToBytes(p.salt), key }
    await this.placeAndRecord(uploadId, file, manifest, { periods: deal.durationPeriods, price: deal.pricePerBytePeriod }, onProgress, signal, p.dealId)
    return { resumed: true, dealId: p.dealId }
  }

  /**
   * Cancels a deal that cannot be completed; the escrow comes back once its holders release.
   * Holders that filled their slots release later, so the deal is kept as a removed file: the
   * watch loop finalizes it then, as it does for `rm`.
   */
  private async rollback (dealId: Hex, manifest: Manifest): Promise<void> {
    const status = await this.c.chain.market.dealStatus(dealId)
    if (status === 'Filling' || status === 'Active') await this.c.chain.market.cancelDeal(dealId)
    if (await this.finalizeIfReleased(dealId)) return
    await this.files.put({ id: dealId, name: manifest.name, size: manifest.size, manifest: { ...manifest, dealId }, origin: 'own', state: 'removed', created: Date.now() })
  }

  /** `known`: the deal's status, if the caller just read it. */
  private async finalizeIfReleased (dealId: Hex, known?: DealStatusName): Promise<boolean> {
    const deal = await this.c.chain.market.getDeal(dealId)
    const status = known ?? await this.c.chain.market.dealStatus(dealId)
    if (deal.filled !== 0 || !['Failed', 'Ended', 'Cancelled'].includes(status)) return false
    await this.c.chain.market.finalizeDeal(dealId)
    return true
  }

  /** The price at which k+m distinct suppliers are available (the (k+m)-th cheapest offer). */
  private async marketPrice (n: number, fragmentSize: bigint): Promise<bigint> {
    const prices = (await this.c.net.offers(n)).filter((o) => o.capacity >= fragmentSize).map((o) => o.price).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    return prices[Math.min(n, prices.length) - 1] ?? 1n
  }

  /**
   * The sealed manifest on every holder. `started`: puts already under way, by holder address
   * (lower case); a holder whose put failed is tried again.
   */
  private async storeManifest (manifest: Manifest, holders: Address[], signal?: AbortSignal, started?: ReadonlyMap<string, Promise<void>>): Promise<number> {
    let sealed: SealedManifest | undefined
    const results = await Promise.allSettled(holders.map(async (h) => {
      const early = started?.get(h.toLowerCase())
      if (early !== undefined && await early.then(() => true, () => false)) return
      sealed ??= this.sealForHolders(manifest)
      await this.putManifest(await this.c.net.peerOf(h), sealed, signal)
    }))
    const ok = results.filter((r) => r.status === 'fulfilled').length
    if (ok === 0) throw new ManifestUnavailableError('No holder accepted the sealed manifest; the file is stored but only this node can list it.')
    return ok
  }

  private sealForHolders (manifest: Manifest): SealedManifest {
    return { ...padManifest(sealManifest(manifest, this.c.identity.publicKey)), dealId: manifest.dealId as Hex }
  }

  private async putManifest (peer: string, sealed: SealedManifest, signal?: AbortSignal): Promise<void> {
    const { bytes, root, dealId } = sealed
    await this.c.net.putFragment(peer, { dealId, slot: MANIFEST_SLOT, size: bytes.length, root: `0x${Buffer.from(root).toString('hex')}` as Hex }, once(bytes), { ...(signal ? { signal } : {}) })
  }

  /** Any holder's copy of a deal's sealed manifest, opened with our key. */
  private async fetchManifest (dealId: Hex, signal?: AbortSignal): Promise<Manifest> {
    const holders = await uploadView(this.c.chain).slotHolders(dealId)
    let lastError: Error | undefined
    for (const h of holders) {
      if (h === undefined) continue
      try {
        const peer = await this.c.net.peerOf(h)
        const chunks: Uint8Array[] = []
        for await (const c of this.c.net.getFragment(peer, dealId, MANIFEST_SLOT, { root: await this.manifestRootOf(peer, dealId, signal) }, signal)) chunks.push(c)
        return openManifest(this.c.identity.privateKey, unpadManifest(Buffer.concat(chunks)))
      } catch (err) {
        lastError = err as Error
      }
    }
    throw new ManifestUnavailableError(`No holder of ${dealId} returned a manifest this identity can open${lastError ? ` (${lastError.message})` : ''}.`)
  }

  private async manifestRootOf (peer: string, dealId: Hex, signal?: AbortSignal): Promise<Hex> {
    const listing = await this.c.net.listing(peer, this.c.identity.address, signal)
    const entry = listing.find((e) => e.dealId.toLowerCase() === dealId.toLowerCase() && e.slot === MANIFEST_SLOT)
    if (entry === undefined) throw new ManifestUnavailableError(`${peer} holds no manifest for ${dealId}`)
    return entry.root
  }

  // ------------------------------------------------------------------ restore

  /** Rebuilds the file list from the chain (my deals) and the holders (my sealed manifests). */
  async restore (onProgress: (e: ProgressEvent) => void = () => {}, signal?: AbortSignal): Promise<{ found: number, restored: number }> {
    const me = this.c.identity.address.toLowerCase()
    const events = await this.c.chain.getEvents({ fromBlock: this.c.chain.deployBlock, contracts: ['market'], eventNames: ['DealOpened'], where: { consumer: this.c.identity.address }, ...(signal ? { signal } : {}) })
    const mine = events.filter((e) => String(e.args.consumer).toLowerCase() === me).map((e) => e.args.dealId as Hex)
    let restored = 0
    for (const [i, dealId] of mine.entries()) {
      onProgress({ stage: 'restore', done: i, total: mine.length })
      if (await this.files.get(dealId) !== undefined) continue
      const status = await this.c.chain.market.dealStatus(dealId)
      if (status !== 'Active') continue
      try {
        const manifest = await this.fetchManifest(dealId, signal)
        await this.files.put({ id: dealId, name: manifest.name, size: manifest.size, manifest, origin: 'own', state: 'active', created: manifest.created })
        restored++
      } catch (err) {
        logger('could not restore %s: %s', dealId, (err as Error).message)
      }
    }
    return { found: mine.length, restored }
  }

  // ------------------------------------------------------------------ download

  private sources (manifest: Manifest, holders: Array<Address | undefined>): FragmentSource[] {
    const dealId = manifest.dealId as Hex
    const sources: FragmentSource[] = []
    holders.forEach((h, index) => {
      if (h === undefined) return
      sources.push({
        index,
        // Fresh buffers off the network: the decoder decrypts them in place.
        givesUpPieces: true,
        open: (options = {}) => {
          const net = this.c.net
          return (async function * () {
            const peer = await net.peerOf(h)
            // The decoder hashes every fragment it uses against this root before trusting it.
            yield * net.getFragment(peer, dealId, index, { root: manifest.coding.roots[index] as Hex, verify: false }, options.signal)
          })()
        },
      })
    })
    // Data fragments first (no decoding work when all k are there), then parity.
    return sources.sort((a, b) => a.index - b.index)
  }

  private async fileFor (id: string, signal?: AbortSignal): Promise<{ record: FileRecord | undefined, manifest: Manifest }> {
    const record = await this.files.resolve(id).catch(async (err: unknown) => {
      if (!/^(0x)?[0-9a-fA-F]{64}$/.test(id)) throw err
      return undefined
    })
    if (record !== undefined) return { record, manifest: record.manifest }
    const dealId = (id.startsWith('0x') ? id : `0x${id}`) as Hex
    const manifest = await this.fetchManifest(dealId, signal).catch((err: unknown) => {
      if ((err as Error).name === 'ManifestUnavailableError') throw new NoAccessToFileError(dealId)
      throw err
    })
    return { record: undefined, manifest }
  }

  async download (id: string, out: { path?: string, dir?: string }, onProgress: (e: ProgressEvent) => void, signal: AbortSignal): Promise<{ path: string, size: number, used: number[] }> {
    const { manifest } = await this.fileFor(id, signal)
    let key: Uint8Array
    try {
      key = openFileKey(manifest, this.c.identity.privateKey)
    } catch {
      throw new NoAccessToFileError(manifest.dealId ?? id)
    }
    const target = await saveTarget(out, manifest.name)
    const holders = await uploadView(this.c.chain).slotHolders(manifest.dealId as Hex)
    onProgress({ stage: 'fetch', done: 0, total: manifest.size })
    const result = await decodeFile(this.sources(manifest, holders), manifest.coding, key, target, {
      signal,
      onProgress: (e) => {
        if (e.type === 'decode:progress') onProgress({ stage: 'fetch', done: e.bytes, total: e.total })
        if (e.type === 'decode:rejected') onProgress({ stage: 'fetch', message: `fragment ${e.index} rejected (${e.reason}); using another` })
      },
    })
    return { path: target, size: result.size, used: result.used }
  }

  async * content (id: string, signal: AbortSignal): AsyncGenerator<Uint8Array> {
    const { manifest } = await this.fileFor(id, signal)
    const key = openFileKey(manifest, this.c.identity.privateKey)
    const holders = await uploadView(this.c.chain).slotHolders(manifest.dealId as Hex)
    yield * decodeStream(this.sources(manifest, holders), manifest.coding, key, { signal })
  }

  // ------------------------------------------------------------------ ls, rm, share

  async list (): Promise<Array<Record<string, unknown>>> {
    const m = this.c.chain.market
    const files = (await this.files.list()).filter((r) => r.state === 'active')
    const ending = files.length === 0 ? () => ({}) : await this.terms.reader()
    // Two reads per file, LIST_PARALLEL files at a time: the deal's status, and its count of held
    // slots (the contract keeps it as slots fill and are freed), not every slot's holder (k+m+1
    // reads, one file after the other).
    const health = async (r: FileRecord): Promise<Record<string, unknown>> => {
      const n = r.manifest.coding.k + r.manifest.coding.m
      let held = 0
      let status = 'unknown'
      let term: Record<string, unknown> = {}
      try {
        const [s, deal] = await Promise.all([m.dealStatus(r.id), m.getDeal(r.id)])
        status = s
        held = deal.filled
        term = ending(deal, s)
      } catch (err) {
        logger('health of %s: %s', r.id, (err as Error).message)
      }
      // Once a deal is over its holders let go of the fragments: the file is no longer stored.
      const over: Record<string, string> = { Ended: 'expired', Cancelled: 'cancelled', Failed: 'failed', Finalized: 'expired' }
      const verdict = over[status] ?? (status === 'Filling' ? `filling (${held}/${n})`
        : held >= n ? 'healthy' : held >= r.manifest.coding.k ? `degraded (${held}/${n})` : `at risk (${held}/${n})`)
      // What the keeper found for the last period (own files, once a watch round went through it).
      const p = this.keeper.proofs(r.id)
      const proofs = p === undefined ? {} : { proven: p.proven, missed: p.missed, provenPeriod: Number(p.period) }
      return { id: r.id, name: r.name, size: r.size, k: r.manifest.coding.k, m: r.manifest.coding.m, held, slots: n, health: verdict, state: status.toLowerCase(), origin: r.origin, ...proofs, ...term }
    }
    const out: Array<Record<string, unknown>> = []
    for (let i = 0; i < files.length; i += LIST_PARALLEL) out.push(...await Promise.all(files.slice(i, i + LIST_PARALLEL).map(health)))
    return out
  }

  async remove (id: string): Promise<{ id: Hex, cancelled: boolean }> {
    const record = await this.files.resolve(id)
    const status = await this.c.chain.market.dealStatus(record.id)
    let cancelled = false
    if (record.origin === 'own' && (status === 'Filling' || status === 'Active')) {
      await this.c.chain.market.cancelDeal(record.id)
      cancelled = true
    }
    await this.files.put({ ...record, state: 'removed' })
    return { id: record.id, cancelled }
  }

  /** A manifest a contact sealed to us: kept if it really grants us the file key. */
  private async receiveShare (sealed: Uint8Array): Promise<void> {
    try {
      const manifest = openManifest(this.c.identity.privateKey, sealed)
      openFileKey(manifest, this.c.identity.privateKey)
      const id = manifest.dealId
      if (id === undefined) return
      const known = await this.files.get(id)
      if (known?.origin === 'own') return
      await this.files.put({ id, name: manifest.name, size: manifest.size, manifest, origin: 'shared', state: 'active', created: Date.now() })
    } catch (err) {
      logger('ignored a share: %s', (err as Error).message)
    }
  }

  async share (id: string, contact: { name: string, publicKey: string }): Promise<{ id: Hex, with: string }> {
    const record = await this.files.resolve(id)
    if (record.origin !== 'own') throw new BadRequestError('Only the owner of a file can share it.')
    const manifest = grantAccess(record.manifest, this.c.identity.privateKey, contact.publicKey)
    const holders = (await uploadView(this.c.chain).slotHolders(record.id)).filter((h): h is Address => h !== undefined)
    await this.storeManifest(manifest, holders)
    await this.files.put({ ...record, manifest })
    await this.c.net.sendShare(contact.publicKey, sealManifest(manifest, contact.publicKey), `shared "${record.name}" with you: bitdust download ${record.id}`)
    return { id: record.id, with: contact.name }
  }

  // ------------------------------------------------------------------ watch

  /**
   * One round of the watch over every file of ours: spot checks (failures become targeted
   * challenges), and the keeper's chores the contract leaves to whoever cares — marking a holder's
   * missed period, expiring an unanswered challenge (which frees the slot for repair), and taking
   * the escrow back from deals that are over.
   */
  async watchRound (signal?: AbortSignal): Promise<Array<{ id: Hex, checks: unknown[] }>> {
    if (this.watching) return []
    this.watching = true
    const report: Array<{ id: Hex, checks: unknown[] }> = []
    try {
      const view = watchView(this.c.chain)
      // A slot we challenge is followed by the keeper until answered or expired.
      const checking = { ...view, challengeSlot: async (dealId: Hex, slot: number): Promise<void> => { await view.challengeSlot(dealId, slot); this.keeper.challenged(dealId, slot) } }
      const active: FileRecord[] = []
      for (const r of await this.files.list()) {
        if (r.origin !== 'own' || this.closed.has(r.id.toLowerCase())) continue
        const status = await this.c.chain.market.dealStatus(r.id)
        if (status === 'Finalized') { this.closed.add(r.id.toLowerCase()); continue }
        if (r.state === 'removed' || status === 'Ended' || status === 'Failed' || status === 'Cancelled') {
          await this.finalizeIfReleased(r.id, status).catch((err: unknown) => { logger('finalize %s: %s', r.id, (err as Error).message) })
          continue
        }
        if (status === 'Active') active.push(r)
      }
      await this.keeper.round(active.map((r) => ({ dealId: r.id, slots: r.manifest.coding.k + r.manifest.coding.m })))
      if (active.length > 0) await this.terms.renewDue(active)
      const net = {
        checkSegment: async (holder: Address, dealId: Hex, slot: number, segment: number, root: Hex, s?: AbortSignal): Promise<void> => {
          const peer = await this.c.net.peerOf(holder)
          // The client checks the segment's Merkle path against the root before yielding it.
          for await (const _ of this.c.net.getFragment(peer, dealId, slot, { offset: segment * SEGMENT_SIZE, length: SEGMENT_SIZE, root }, s)) { /* verified */ }
        },
      }
      for (const r of active) {
        const checks = await spotCheck({ dealId: r.id, fragmentSize: r.manifest.coding.fragmentSize, roots: r.manifest.coding.roots }, checking, net, { samples: 1, ...(signal ? { signal } : {}) })
        report.push({ id: r.id, checks })
      }
    } catch (err) {
      logger('watch round: %s', (err as Error).message)
    } finally {
      this.watching = false
    }
    return report
  }

  // ------------------------------------------------------------------ API

  get routes (): Route[] {
    const c = this.c
    const str = (v: unknown): string | undefined => typeof v === 'string' && v.length > 0 ? v : undefined
    const num = (v: unknown, what: string): number | undefined => {
      if (v === undefined || v === null || v === '') return undefined
      const n = Number(v)
      if (!Number.isSafeInteger(n) || n <= 0) throw new BadRequestError(`${what} must be a positive whole number.`)
      return n
    }
    return [
      { method: 'GET', path: '/files', handler: async () => await this.list() },
      {
        method: 'POST',
        path: '/files',
        handler: async (r) => {
          const b = (r.body ?? {}) as Record<string, unknown>
          const path = str(b.path)
          if (path === undefined) throw new BadRequestError('Give the path of the file to upload.')
          const price = str(b.price)
          if (price !== undefined && !/^\d+$/.test(price)) throw new BadRequestError(`price must be a whole number of token base units per byte per period, got "${price}".`)
          if (price !== undefined && BigInt(price) === 0n) throw new BadRequestError('price must be at least 1 token base unit per byte per period.')
          const opts = { name: str(b.name), k: num(b.k, 'k'), m: num(b.m, 'm'), periods: num(b.periods, 'periods'), price: price === undefined ? undefined : BigInt(price) }
          return c.jobs.start('upload', async (onProgress, signal) => await this.upload(path, clean(opts), onProgress, signal))
        },
      },
      {
        method: 'GET',
        path: '/files/:id',
        handler: async (r) => {
          const rec = await this.files.resolve(r.params.id as string)
          return { id: rec.id, name: rec.name, size: rec.size, origin: rec.origin, state: rec.state, coding: rec.manifest.coding, created: rec.created }
        },
      },
      {
        method: 'POST',
        path: '/files/:id/download',
        handler: async (r) => {
          const b = (r.body ?? {}) as Record<string, unknown>
          return c.jobs.start('download', async (onProgress, signal) => await this.download(r.params.id as string, clean({ path: str(b.path), dir: str(b.dir) }), onProgress, signal))
        },
      },
      {
        method: 'GET',
        path: '/files/:id/content',
        handler: async (r) => {
          const { manifest } = await this.fileFor(r.params.id as string, r.signal)
          return new StreamBody(this.content(r.params.id as string, r.signal), { filename: safeFileName(manifest.name), length: manifest.size })
        },
      },
      { method: 'DELETE', path: '/files/:id', handler: async (r) => await this.remove(r.params.id as string) },
      { method: 'POST', path: '/files/:id/renew', handler: async (r) => await this.terms.renew(r.params.id as string, num(((r.body ?? {}) as Record<string, unknown>).periods, 'periods')) },
      { method: 'POST', path: '/files/check', handler: async (r) => await this.watchRound(r.signal) },
      { method: 'POST', path: '/files/restore', handler: async () => c.jobs.start('restore', async (onProgress, signal) => await this.restore(onProgress, signal)) },
    ]
  }

  async status (): Promise<Record<string, unknown>> {
    const files = (await this.files.list()).filter((f) => f.state === 'active')
    return { files: files.length, ...this.terms.status() }
  }
}

async function * once (bytes: Uint8Array): AsyncGenerator<Uint8Array> { yield bytes }

function clean<T extends Record<string, unknown>> (o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> }
}

