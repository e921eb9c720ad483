/**
 * The supplier as a node service: registers and stakes, publishes offers, accepts fragments into
 * its store (only for slots that are really open on chain, with the root the deal names), fills
 * slots with a proof, answers every period's samples and every targeted challenge, claims its
 * earnings, releases slots of deals that ended (collateral back, fragment deleted) and repairs
 * slots freed on chain for the bounty. Every loop reads its state back from the chain, so a
 * restart resumes without missing proofs.
 */
import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { createReadStream, createWriteStream } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { zeroAddress } from 'viem'
import type { Address, Hex } from 'viem'
import type { Route } from '../api/server.ts'
import { BadRequestError } from '../api/errors.ts'
import type { NodeService, NodeServices } from '../node.ts'
import type { BitDustChain } from '../chain/client.ts'
import { keeperView, supplierView } from '../chain/views.ts'
import type { Deal, DealStatusName, StakeInfo } from '../chain/types.ts'
import { fragmentStore } from '../storage/fragment-store/index.ts'
import type { FragmentMeta, FragmentStore, StoredFragment } from '../storage/fragment-store/index.ts'
import { FRAGMENTS_DIR } from '../config/constants.ts'
import { amount, saveSettings } from '../config/index.ts'
import { DEFAULT_SHARD_SIZE } from '../erasure/constants.ts'
import { MANIFEST_SLOT } from '../consumer/manifests.ts'
import { RepairError, RepairNotOursError, repairSlot } from '../repair/index.ts'
import { RepairQueue } from '../repair/queue.ts'
import { repairWave } from '../repair/wave.ts'
import { rebuildFragment } from '../repair/rebuild.ts'
import { TreeBuilder } from '../proofs/tree-builder.ts'
import { ROOT_LATER } from '../proofs/constants.ts'
import { slotRefOf } from '../proofs/challenge.ts'
import { log } from '../log.ts'
import { BoundedMap } from '../util/bounded-map.ts'
import { leaveSlots, leaveSummary, nextFreeLeave, settleStake } from './leave.ts'
import { Watchtower } from './watchtower.ts'
import type { LeaveOutcome, StakeSettlement } from './leave.ts'
import { Prover, concatProofs } from './prover.ts'
import type { SlotRef } from './types.ts'

const logger = log('supplier')

/** Share of the quota that fragments of deals not yet opened may take at once. */
const UNOPENED_SHARE = 0.25

/**
 * A put is checked when it is announced and again when its bytes start, milliseconds apart: the
 * deal read for the first serves the second if it is at most this old. Each upload made every
 * supplier read the same deal twice per put (its fragment's and its manifest's), ~10 % of the
 * JSON-RPC calls an upload costs the endpoint.
 */
const CHECK_REUSE_MS = 2000

/**
 * The most collateral a deal may ask per byte, in periods of its own price. The consumer asks 10
 * (node/consumer/service.ts); without a bound a deal at the lowest price could lock any amount of
 * a supplier's stake for its whole term.
 */
const MAX_COLLATERAL_PERIODS = 20n

export class SlotNotOpenError extends Error {
  override name = 'NotAcceptingError'
}

export class NotSupplyingError extends Error {
  override name = 'NotSupplyingError'
  constructor () { super('This node does not rent out disk space. Restart it with `bitdust start --supply` (and --quota, --price, --stake as you choose) to become a supplier.') }
}

/** The supply routes of a node that does not supply: each says how to become a supplier. */
export const NOT_SUPPLYING_ROUTES: Route[] = (['GET', 'POST'] as const).map((method) => ({ method, path: '/supply/:what', handler: async () => { throw new NotSupplyingError() } }))

/** The deal a fragment names is not on chain (yet: this endpoint may lag the consumer's). */
class DealNotOnChainError extends SlotNotOpenError {}

/** What the supplier needs of the peer network. */
export interface SupplierNet {
  peerId: string
  publishOffer: (terms: { capacity: bigint, price: bigint, stake: bigint }) => Promise<void>
  peerOf: (address: Address) => Promise<string>
  getFragment: (peerId: string, dealId: Hex, slot: number, range: { root: Hex }, signal?: AbortSignal) => AsyncIterable<Uint8Array>
  /** Suppliers whose offers this node knows: who watches whom (watchtower.ts), how many try a repair at once (node/repair/wave.ts). */
  knownSuppliers?: () => Address[]
}

export interface SupplierComponents extends NodeServices {
  chain: BitDustChain
}

export interface SupplierInit {
  tickMs?: number
  offerIntervalMs?: number
}

/**
 * The prover looks at the chain once per tick (default 1 s: a devnet block; proof and challenge
 * windows are many blocks long), the other chores once per CHORE_TICKS ticks. Each look is an RPC
 * call or two, and every supplier makes them: with the prover at two ticks a second and the
 * chores every 3 s, polling was most of an idle supplier's CPU and of the chain endpoint's load.
 * Measured in one 10+4 devnet with half of the suppliers polling half as often: 29 % less CPU
 * while idle, 4–10 % less while receiving an upload.
 */
export const CHORE_TICKS = 5

/**
 * How far back a supplier that starts (or comes back) looks for slots freed and still free: about
 * three days of 12 s blocks, four log reads (node/repair/queue.ts).
 */
const REPAIR_LOOKBACK_BLOCKS = 20_000n

/**
 * Suppliers, network-wide and on average, that look up a jailed supplier's slots: each of them
 * queues those it may repair, so enough of them that one can take each slot (it must not hold
 * another fragment of the file), few enough that a jailing does not send every supplier of the
 * network to read the jailed one's slot set and each of its deals.
 */
const JAIL_SCANNERS = 16

/** A peer id's binary multihash, as registered on chain: base58btc-decoded. */
export type PeerIdBytes = (peerId: string) => Uint8Array

export class SupplierService implements NodeService {
  readonly name = 'supplier'
  readonly store: FragmentStore
  private readonly c: SupplierComponents
  private readonly view: ReturnType<typeof supplierView>
  private readonly prover: Prover
  private readonly watchtower: Watchtower
  private readonly tickMs: number
  private readonly offerIntervalMs: number
  private net: SupplierNet | undefined
  private peerIdBytes: PeerIdBytes | undefined
  private timer: NodeJS.Timeout | undefined
  private proverTimer: NodeJS.Timeout | undefined
  private running = false
  private proving = false
  private lastOffer = 0
  /** The terms last handed to the network, which re-announces them on its own until they change. */
  private publishedTerms: string | undefined
  private scannedTo = 0n
  /** When a scan last found a new head (Date.now). */
  private scannedAt = 0
  /** Maintenance passes since the last sweep of ended deals. */
  private sinceSweep = 0
  /**
   * Per held deal (lower case): the block before which its status cannot change by itself, so a
   * sweep need not read it (an active deal ends at its end period; a cancel is an event, which
   * clears the entry). A sweep that read every held deal was a call per deal every 50 s.
   */
  private readonly steadyUntil = new Map<string, bigint>()
  private readonly repairs: RepairQueue
  /** Bytes being taken in for deals not yet open (put with ROOT_LATER): bounded, see checkSlot. */
  private unopenedBytes = 0
  /** The deal each announced put was checked against (lower-case id), for its accept: see CHECK_REUSE_MS. */
  private readonly checkedDeals = new BoundedMap<string, { deal: Deal, at: number }>(1024)
  private stats = { proofs: 0, answers: 0, fills: 0, repairs: 0, missesMarked: 0, errors: 0, lastError: '' }
  /** The price asked per byte-period: the configured one until `supply offer --price` changes it. */
  private price: bigint
  /** Leaving the network (SupplyConfig.leaving): the sweep unbonds stake as it frees and withdraws it. */
  private leaving: boolean
  /** The quota asked for (config, `supply offer`); the store's is 0 while leaving. */
  private quota: number
  /**
   * While leaving: the period from which a slot still held can be given up at no cost (its deal's
   * end, or the end of the first term of a deal extended since); 0 = look at the next sweep.
   */
  private freeLeaveAt: number | undefined

  constructor (c: SupplierComponents, init: SupplierInit = {}) {
    this.c = c
    this.view = supplierView(c.chain)
    const db = c.db.sublevel<string, string>(`fragments:${c.chain.contracts.market.toLowerCase()}`, { valueEncoding: 'utf8' })
    this.store = fragmentStore({ dir: join(c.config.datadir, FRAGMENTS_DIR), quota: c.config.supply.quota })({ db })
    this.price = c.config.supply.price
    this.leaving = c.config.supply.leaving
    this.freeLeaveAt = this.leaving ? 0 : undefined
    this.quota = Number(c.config.supply.quota)
    if (this.leaving) this.store.setQuota(0)
    this.prover = new Prover({
      chain: this.view,
      store: {
        has: async (s) => await this.store.has(s.dealId, s.index),
        proof: async (s, segment) => {
          const p = await this.store.proof(s.dealId.toLowerCase(), s.index, segment)
          return concatProofs([p.segment, ...p.path])
        },
      },
    }, {
      onProved: () => { this.stats.proofs++ },
      onAnswered: () => { this.stats.answers++ },
      onError: (what, err) => { this.stats.errors++; this.stats.lastError = `${what}: ${err.message}` },
    })
    this.repairs = new RepairQueue({
      self: this.view.address,
      slotId: (ref) => this.view.slotId(ref),
      suppliers: () => this.net?.knownSuppliers?.().length ?? 0,
      holderOf: async (ref) => (await c.chain.market.getSlot(ref.dealId, ref.index)).holder,
      active: async (dealId) => await c.chain.market.dealStatus(dealId) === 'Active',
      freedLately: async () => await this.freedLately(),
      repair: async (ref) => { await this.repair(ref) },
      paused: () => this.leaving,
      // Filled by someone else, or its deal is over: nothing to try again.
      settles: (e) => e.errorName === 'MarketSlotNotFree' || e.errorName === 'MarketDealNotActive' || e.errorName === 'MarketDealNotFilling',
    })
    this.watchtower = new Watchtower(keeperView(c.chain), this.view.address, () => this.net?.knownSuppliers?.() ?? [])
    this.tickMs = init.tickMs ?? 1000
    this.offerIntervalMs = init.offerIntervalMs ?? 30_000
  }

  /** The network comes after the store (the p2p node needs the store as its fragment backend). */
  attach (net: SupplierNet, peerIdBytes: PeerIdBytes): void {
    this.net = net
    this.peerIdBytes = peerIdBytes
  }

  /** The fragment protocol's backend: the store, guarded by what the chain says about the slot. */
  get backend (): FragmentStore {
    const store = this.store
    return {
      ...bindAll(store),
      check: async (meta, options) => {
        const deal = await this.checkSlot(meta)
        this.checkedDeals.set(meta.dealId.toLowerCase(), { deal, at: Date.now() })
        if (meta.slot === MANIFEST_SLOT && await store.has(meta.dealId, meta.slot)) return
        await store.check(meta, options)
      },
      accept: async (meta, data, options = {}) => {
        // Sent ahead of its deal: kept once the consumer commits to the root we hashed and the
        // deal on chain names that root for this slot. Counted before the chain check, so that
        // concurrent puts see each other against the cap.
        const later = meta.root === ROOT_LATER
        if (later) this.unopenedBytes += meta.size
        let stored: StoredFragment
        try {
          await this.checkSlot(meta, later ? meta.size : 0, this.recentlyChecked(meta.dealId))
          // The owner replaces its manifest when it shares the file (a new grant inside).
          if (meta.slot === MANIFEST_SLOT) await store.delete(meta.dealId, meta.slot)
          const confirm = options.confirm
          stored = await store.accept(meta, data, confirm === undefined
            ? options
            : { ...options, confirm: async (root) => { await confirm(root); await this.checkCommitted({ ...meta, root }) } })
        } finally {
          if (later) this.unopenedBytes -= meta.size
        }
        if (meta.slot !== MANIFEST_SLOT) void this.fillAfterAccept({ dealId: meta.dealId as Hex, index: meta.slot })
        return stored
      },
      put: async (meta, data, options) => await this.backend.accept(meta, data, options),
    }
  }

  /**
   * The chain check of a fragment that arrived before its deal, once the consumer commits: the
   * deal was opened just before, and this supplier's RPC endpoint may be a block or two behind.
   */
  private async checkCommitted (meta: FragmentMeta): Promise<void> {
    const until = Date.now() + 30_000
    for (;;) {
      try {
        await this.checkSlot(meta)
        return
      } catch (err) {
        if (!(err instanceof DealNotOnChainError) || Date.now() > until) throw err
        await new Promise((resolve) => setTimeout(resolve, 1000))
      }
    }
  }

  /** The deal a put's check read, if that was under CHECK_REUSE_MS ago (taken: used once). */
  private recentlyChecked (dealId: string): Deal | undefined {
    const key = dealId.toLowerCase()
    const seen = this.checkedDeals.get(key)
    this.checkedDeals.delete(key)
    return seen !== undefined && Date.now() - seen.at <= CHECK_REUSE_MS ? seen.deal : undefined
  }

  /**
   * `counted`: bytes of this fragment already in unopenedBytes (a put under way). `known`: the
   * deal as read a moment ago for this same put. Returns the deal it checked against.
   */
  private async checkSlot (meta: FragmentMeta, counted = 0, known?: Deal): Promise<Deal> {
    const m = this.c.chain.market
    const later = meta.root === ROOT_LATER
    if (later && meta.slot === MANIFEST_SLOT) throw new SlotNotOpenError('A sealed manifest is sent with its root.')
    // A data slot of a deal that should exist (a fragment sent with its root, or one sent ahead
    // whose consumer just committed) needs all three reads: one round trip instead of three.
    // A fragment sent ahead, or a manifest, needs only the deal at first.
    const id = meta.dealId as Hex
    const both = meta.slot !== MANIFEST_SLOT && !later
    const [deal, slotRead, statusRead] = await Promise.all([known ?? m.getDeal(id), both ? m.getSlot(id, meta.slot) : undefined, both ? m.dealStatus(id) : undefined])
    if (deal.consumer === zeroAddress) {
      // Kept only if the deal opens (checkCommitted). Anyone can send such a fragment without
      // paying, so they may take only part of the space: paid deals always find room.
      if (later) {
        const { quota } = this.store.usage()
        const cap = quota * UNOPENED_SHARE
        const others = this.unopenedBytes - counted
        if (others + meta.size > cap) throw new SlotNotOpenError(`This supplier is already taking in ${others} bytes for deals not yet opened (at most ${Math.floor(cap)}); open the deal first or try another supplier.`)
        return deal
      }
      throw new DealNotOnChainError(`There is no deal ${meta.dealId} on chain.`)
    }
    if (deal.consumer.toLowerCase() !== meta.owner.toLowerCase()) throw new SlotNotOpenError(`Deal ${meta.dealId} belongs to ${deal.consumer}, not ${meta.owner}.`)
    if (meta.slot === MANIFEST_SLOT) {
      if (meta.size > 512 * 1024) throw new SlotNotOpenError('A sealed manifest is at most 512 KiB.')
      return deal
    }
    if (meta.slot >= deal.dataSlots + deal.paritySlots) throw new SlotNotOpenError(`Deal ${meta.dealId} has no slot ${meta.slot}.`)
    if (BigInt(meta.size) !== deal.fragmentSize) throw new SlotNotOpenError(`Slot ${meta.slot} holds ${deal.fragmentSize} bytes, not ${meta.size}.`)
    const terms = this.termsProblem(deal)
    if (terms !== undefined) throw new SlotNotOpenError(`Deal ${meta.dealId} ${terms}.`)
    const [slot, status] = await Promise.all([slotRead ?? m.getSlot(id, meta.slot), statusRead ?? m.dealStatus(id)])
    if (slot.holder !== zeroAddress) throw new SlotNotOpenError(`Slot ${meta.slot} of ${meta.dealId} is already held.`)
    if (!later && slot.root.toLowerCase() !== meta.root.toLowerCase()) throw new SlotNotOpenError(`Slot ${meta.slot} of ${meta.dealId} has another root on chain.`)
    if (status !== 'Filling' && status !== 'Active') throw new SlotNotOpenError(`Deal ${meta.dealId} is ${status.toLowerCase()}.`)
    return deal
  }

  /**
   * Why this supplier will not hold a slot of `deal`, or undefined. Offers are only announcements:
   * a deal opened by any client, or a slot up for repair, is held to this supplier's own terms.
   */
  private termsProblem (deal: Deal): string | undefined {
    if (deal.pricePerBytePeriod < this.price) return `pays ${deal.pricePerBytePeriod} per byte-period; this supplier asks ${this.price}`
    if (deal.collateralPerByte > deal.pricePerBytePeriod * MAX_COLLATERAL_PERIODS) {
      return `asks ${deal.collateralPerByte} collateral per byte, more than ${MAX_COLLATERAL_PERIODS} periods of its price; this supplier takes at most that`
    }
    return undefined
  }

  private async fillAfterAccept (slot: SlotRef): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.prover.fill(slot)
        this.stats.fills++
        logger('filled slot %d of %s', slot.index, slot.dealId)
        return
      } catch (err) {
        const e = err as Error & { errorName?: string }
        logger('fill of %s/%d failed: %s', slot.dealId, slot.index, e.message)
        this.stats.errors++
        this.stats.lastError = `fill ${slot.dealId.slice(0, 10)}/${slot.index}: ${e.message}`
        if (e.errorName === 'MarketSlotNotFree' || e.errorName === 'MarketDealNotFilling' || e.errorName === 'MarketDealNotActive') break
        await new Promise((resolve) => setTimeout(resolve, 1000 * (attempt + 1)))
      }
    }
    // Could not fill: the fragment earns nothing and only takes room.
    await this.store.delete(slot.dealId.toLowerCase(), slot.index).catch(() => {})
  }

  async start (): Promise<void> {
    await mkdir(join(this.c.config.datadir, FRAGMENTS_DIR), { recursive: true })
    await this.store.start()
    // Slots held from before a restart: track them again so period samples find them.
    const mine = new Set((await this.c.chain.market.slotsOf(this.view.address)).map((id) => id.toLowerCase()))
    for (const f of await this.store.list()) {
      if (f.slot === MANIFEST_SLOT) continue
      const ref = { dealId: f.dealId as Hex, index: f.slot }
      if (mine.has(this.view.slotId(ref).toLowerCase())) this.prover.track(ref)
    }
    this.scannedTo = await this.c.chain.blockNumber()
  }

  /** Registration, stake and the loops start once the network is up (offers need it). */
  async begin (): Promise<void> {
    await this.ensureRegistered()
    // Proofs have a deadline of a few blocks: they get their own loop, never queued behind slower
    // chores (offers, releases, repairs), which run every CHORE_TICKS ticks.
    this.proverTimer = setInterval(() => { void this.proveTick() }, Math.max(200, this.tickMs))
    this.proverTimer.unref()
    this.timer = setInterval(() => { void this.tick() }, this.tickMs * CHORE_TICKS)
    this.timer.unref()
    void this.proveTick()
    void this.tick()
    this.repairs.lookBack()
  }

  private async proveTick (): Promise<void> {
    if (this.proving) return
    this.proving = true
    try {
      await this.prover.tick()
    } finally {
      this.proving = false
    }
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    clearInterval(this.proverTimer)
    await this.store.stop()
  }

  private async ensureRegistered (): Promise<void> {
    const s = this.c.chain.staking
    const { quota, stake } = this.c.config.supply
    if (!await s.isRegistered(this.view.address)) {
      if (this.net === undefined || this.peerIdBytes === undefined) throw new Error('the supplier needs the network before registering')
      await s.register({ peerId: this.peerIdBytes(this.net.peerId), capacity: quota, pricePerBytePeriod: this.price })
      logger('registered')
    }
    if (this.leaving) return
    const info = await s.stakeInfo(this.view.address)
    if (info.staked < stake) await s.stake(stake - info.staked)
  }

  /** While leaving: gives up, at no cost, the slots of extended deals past their first term. */
  private async leaveWhatIsFree (head: bigint): Promise<void> {
    if (this.freeLeaveAt === undefined) return
    const clock = await this.view.schedule()
    if (head < clock.genesisBlock + BigInt(this.freeLeaveAt) * clock.periodBlocks) return
    // No waiting for this period's proof inside a chore: a slot that must wait is looked at next time.
    const outcome = await leaveSlots(this.c.chain.market, await this.heldSlots(), { self: this.view.address, now: false, patienceMs: 0, onLeft: async (ref) => { await this.dropSlot(ref) } })
    this.freeLeaveAt = nextFreeLeave(outcome.kept)
  }

  private async heldSlots (): Promise<SlotRef[]> {
    return (await this.store.list()).filter((f) => f.slot !== MANIFEST_SLOT).map((f) => ({ dealId: f.dealId as Hex, index: f.slot }))
  }

  /** A slot we no longer hold: stop proving it, delete its fragment. */
  private async dropSlot (ref: SlotRef): Promise<void> {
    this.prover.untrack(ref)
    await this.store.delete(ref.dealId.toLowerCase(), ref.index).catch(() => {})
  }

  /** While leaving: see settleStake. */
  private async keepStake (head?: bigint): Promise<StakeSettlement> {
    return await settleStake(this.c.chain.staking, this.view.address, head ?? await this.c.chain.blockNumber())
  }

  /** One pass of every duty; never overlaps itself. */
  async tick (): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      await this.scanEvents()
      this.repairs.poll()
      await this.watch()
      if (Date.now() - this.lastOffer > this.offerIntervalMs) await this.publishOffer()
    } catch (err) {
      this.stats.errors++
      this.stats.lastError = (err as Error).message
      logger('tick: %s', (err as Error).message)
    } finally {
      this.running = false
    }
  }

  /** The watchtower's round, once per period, on the head the last scan read (no read of its own). */
  private async watch (): Promise<void> {
    if (!this.c.config.supply.watch || this.scannedTo === 0n) return
    const clock = await this.view.schedule()
    if (this.scannedTo < clock.genesisBlock) return
    this.stats.missesMarked += await this.watchtower.round((this.scannedTo - clock.genesisBlock) / clock.periodBlocks)
  }

  /**
   * Announces the current terms if they changed since the last announcement (or `force`): the
   * network refreshes an unchanged offer on its own schedule, and every announcement is a
   * gossip message that each node of the network verifies (a signature check in pure JS).
   */
  async publishOffer (force = false): Promise<void> {
    if (this.net === undefined) return
    const { used, quota } = this.store.usage()
    const free = await this.c.chain.staking.freeStake(this.view.address)
    const terms = { capacity: BigInt(Math.max(0, quota - used)), price: this.price, stake: free }
    const key = `${terms.capacity}/${terms.price}/${terms.stake}`
    if (force || key !== this.publishedTerms) {
      await this.net.publishOffer(terms)
      this.publishedTerms = key
    }
    this.lastOffer = Date.now()
  }

  /** Ended deals to release, freed slots to repair: both found from market events since last time. */
  private async scanEvents (): Promise<void> {
    // On a chain slower than the chores (12 s blocks, chores every 5 s) most looks would find the
    // head where the last one left it: none within one block time of the last that found a new
    // one (the prover's estimate). What they look for, freed slots and cancelled deals, keeps.
    const blockMs = this.prover.blockTimeMs()
    if (blockMs !== undefined && blockMs >= 2 * this.tickMs * CHORE_TICKS && Date.now() - this.scannedAt < blockMs) return
    const head = await this.c.chain.blockNumber()
    if (head <= this.scannedTo) return
    const events = await this.c.chain.getEvents({ fromBlock: this.scannedTo + 1n, toBlock: head, contracts: ['market'], eventNames: ['SlotFreed', 'DealCancelled', 'SupplierJailed'] })
    this.scannedTo = head
    this.scannedAt = Date.now()
    // A cancel is announced by an event; a deal that simply reached its end is not, so the held
    // deals are also swept every tenth pass rather than read on every one.
    let sweep = ++this.sinceSweep >= 10
    for (const e of events) {
      if (e.eventName === 'DealCancelled') {
        this.steadyUntil.delete(String(e.args.dealId).toLowerCase())
        sweep = true
        continue
      }
      if (e.eventName === 'SupplierJailed') {
        // About JAIL_SCANNERS suppliers of the network look up a jailed supplier's slots (drawn
        // like repair waves), not all; the slots' waves are then drawn among them.
        const jailed = e.args.supplier as Address
        if (repairWave(jailed, this.view.address, this.net?.knownSuppliers?.().length ?? 0, JAIL_SCANNERS) === 0) await this.repairJailed(jailed)
        continue
      }
      const dealId = e.args.dealId as Hex
      if (e.eventName === 'SlotFreed') {
        const ref = { dealId, index: Number(e.args.index) }
        if (String(e.args.supplier).toLowerCase() === this.view.address.toLowerCase()) {
          await this.dropSlot(ref)
        } else {
          this.repairs.want(ref)
        }
      }
    }
    if (sweep) {
      this.sinceSweep = 0
      await this.releaseEnded(head)
      if (this.leaving) await this.leaveWhatIsFree(head)
      if (this.leaving) await this.keepStake(head)
    }
  }

  /**
   * Deals over (ended, cancelled, failed): settle, release the slot (collateral back), delete.
   * A deal is read when its status can have changed: while it fills (it fails at its deadline),
   * once it reaches its end period, and after a cancel.
   */
  async releaseEnded (head?: bigint): Promise<void> {
    const m = this.c.chain.market
    const now = head ?? await this.c.chain.blockNumber()
    const seen = new Map<string, DealStatusName>()
    for (const f of await this.store.list()) {
      const dealId = f.dealId as Hex
      const key = dealId.toLowerCase()
      if (now < (this.steadyUntil.get(key) ?? 0n)) continue
      let status = seen.get(key)
      if (status === undefined) {
        status = await m.dealStatus(dealId)
        seen.set(key, status)
        if (status === 'Active') {
          const [deal, clock] = await Promise.all([m.getDeal(dealId), this.view.schedule()])
          this.steadyUntil.set(key, clock.genesisBlock + BigInt(deal.endPeriod) * clock.periodBlocks)
        }
      }
      if (status === 'Active' || status === 'Filling') continue
      this.steadyUntil.delete(key)
      if (f.slot !== MANIFEST_SLOT) {
        const slot = await m.getSlot(dealId, f.slot)
        if (slot.holder.toLowerCase() === this.view.address.toLowerCase()) {
          await m.releaseSlot(dealId, f.slot)
          this.prover.untrack({ dealId, index: f.slot })
        }
      }
      await this.store.delete(f.dealId, f.slot)
    }
  }

  /**
   * A jailed supplier's slots stay in its name until someone repairs them (the contract evicts it
   * lazily on the repair fill). They are read from its slot set, whose ids name their deals: a
   * few calls per thousand slots it holds, however old the chain.
   */
  private async repairJailed (jailed: Address): Promise<void> {
    if (jailed.toLowerCase() === this.view.address.toLowerCase()) return
    const m = this.c.chain.market
    const among = Math.min(JAIL_SCANNERS, this.net?.knownSuppliers?.().length ?? 0)
    for (const sid of await m.slotsOf(jailed)) {
      const ref = slotRefOf(sid)
      if (await m.dealStatus(ref.dealId) === 'Active') this.repairs.want(ref, jailed, among)
    }
  }

  /** Slots freed over the last REPAIR_LOOKBACK_BLOCKS. */
  private async freedLately (): Promise<SlotRef[]> {
    const head = await this.c.chain.blockNumber()
    const from = head > this.c.chain.deployBlock + REPAIR_LOOKBACK_BLOCKS ? head - REPAIR_LOOKBACK_BLOCKS : this.c.chain.deployBlock
    const freed = await this.c.chain.getEvents({ fromBlock: from, toBlock: head, contracts: ['market'], eventNames: ['SlotFreed'] })
    return freed.map((e) => ({ dealId: e.args.dealId as Hex, index: Number(e.args.index) }))
  }

  /** Rebuilds a freed slot's fragment from k others and fills the slot; throws when it cannot. */
  private async repair (slot: SlotRef): Promise<void> {
    if (this.net === undefined) throw new RepairError('the network is not up yet')
    const net = this.net
    const m = this.c.chain.market
    await repairSlot(slot, {
      self: this.view.address,
      deal: async (dealId) => {
        const d = await m.getDeal(dealId)
        const terms = this.termsProblem(d)
        if (terms !== undefined) throw new RepairError(`not repairing deal ${dealId}: it ${terms}`)
        const status = await m.dealStatus(dealId)
        if (status !== 'Active') throw new RepairNotOursError(`deal ${dealId} is ${status.toLowerCase()}: nothing to repair`)
        // Before fetching k fragments for it: a full (or leaving, quota 0) store would refuse the result.
        const { used, quota } = this.store.usage()
        if (quota - used < Number(d.fragmentSize)) throw new RepairError(`not repairing deal ${dealId}: ${quota - used} bytes free, its fragments take ${d.fragmentSize}`)
        const n = d.dataSlots + d.paritySlots
        const slots = await Promise.all(Array.from({ length: n }, async (_, i) => await m.getSlot(dealId, i)))
        // A jailed holder counts as gone: its slot is repairable and its copy is not trusted.
        const jailed = new Map<string, boolean>()
        for (const s of slots) {
          if (s.holder !== zeroAddress && !jailed.has(s.holder)) jailed.set(s.holder, (await m.supplierState(s.holder)).jailed)
        }
        return { k: d.dataSlots, m: d.paritySlots, fragmentSize: Number(d.fragmentSize), roots: slots.map((s) => s.root), holders: slots.map((s) => s.holder === zeroAddress || jailed.get(s.holder) === true ? undefined : s.holder) }
      },
      // Streamed to disk: fragments can be far larger than memory should hold. The bytes only
      // count once the stream ended without a root mismatch (getFragment throws at its end).
      fetch: async (holder, ref, root, dest, signal) => {
        await pipeline(Readable.from(net.getFragment(await net.peerOf(holder), ref.dealId, ref.index, { root }, signal)), createWriteStream(dest), signal ? { signal } : {})
      },
      rebuild: async (fragments, shape, missing, dest) => { await rebuildFragment(fragments, { ...shape, shardSize: DEFAULT_SHARD_SIZE }, missing, dest) },
      rootOf: async (path) => {
        const tree = new TreeBuilder()
        for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) await tree.update(chunk as Buffer)
        return `0x${Buffer.from((await tree.digest()).root).toString('hex')}` as Hex
      },
      adopt: async (ref, path, root) => {
        const d = await m.getDeal(ref.dealId)
        const meta = { dealId: ref.dealId.toLowerCase(), slot: ref.index, size: Number(d.fragmentSize), root: root.toLowerCase(), owner: d.consumer.toLowerCase() }
        await this.store.accept(meta, createReadStream(path, { highWaterMark: 1 << 20 }))
        try {
          await this.prover.fill(ref)
        } catch (err) {
          await this.store.delete(meta.dealId, meta.slot).catch(() => {})
          throw err
        }
      },
      tmpdir: this.c.config.datadir,
    })
    this.stats.repairs++
  }

  async status (): Promise<Record<string, unknown>> {
    const { used, quota } = this.store.usage()
    return { supplier: { used, quota, slots: (await this.store.list()).filter((f) => f.slot !== MANIFEST_SLOT).length, ...(this.leaving ? { leaving: true } : {}), ...this.stats, repairsWaiting: this.repairs.size } }
  }

  /**
   * New terms from `supply offer`: taken at once (the next fragment is held to them), kept in the
   * data directory's config.json for the next start, and announced.
   */
  private async changeOffer (body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const setting = (v: unknown, what: string): bigint | undefined => v === undefined || v === null || v === '' ? undefined : amount(v as string, what)
    const quota = setting(body.quota, 'quota')
    const price = setting(body.price, 'price')
    if (price === 0n) throw new BadRequestError('price must be at least 1 token base unit per byte-period.')
    if (quota !== undefined && quota > BigInt(Number.MAX_SAFE_INTEGER)) throw new BadRequestError(`quota must be at most ${Number.MAX_SAFE_INTEGER} bytes.`)
    if (quota !== undefined) this.quota = Number(quota)
    if (quota !== undefined && !this.leaving) this.store.setQuota(this.quota)
    if (price !== undefined) this.price = price
    const saved = quota === undefined && price === undefined
      ? undefined
      : await saveSettings(this.c.config.datadir, { ...(quota !== undefined ? { quota: quota.toString() } : {}), ...(price !== undefined ? { price: price.toString() } : {}) })
    await this.publishOffer(true)
    const usage = this.store.usage()
    return { price: this.price, quota: usage.quota, used: usage.used, capacity: Math.max(0, usage.quota - usage.used), leaving: this.leaving, ...(saved !== undefined ? { saved } : {}) }
  }

  /**
   * `supply leave`: take nothing new (quota 0) and keep no stake, now and after a restart; give up
   * the slots of running deals at once if `now` (their collateral pays their repair), or else as
   * each deal ends; unbond what stake is free. The node withdraws it once it has unbonded.
   */
  private async leave (now: boolean): Promise<Record<string, unknown>> {
    this.store.setQuota(0)
    this.leaving = true
    const saved = await saveSettings(this.c.config.datadir, { leaving: true })
    await this.publishOffer(true)
    await this.releaseEnded()
    const outcome = await leaveSlots(this.c.chain.market, await this.heldSlots(), { self: this.view.address, now, onLeft: async (ref) => { await this.dropSlot(ref) } })
    this.freeLeaveAt = nextFreeLeave(outcome.kept)
    const stake = await this.keepStake()
    return { ...outcome, stake: stake.info, unbonded: stake.unbonded, withdrawn: stake.withdrawn, saved, summary: await this.leaveSummary(outcome, stake.info, now) }
  }

  /** `supply stake`: more collateral; a supplier that was leaving is back (its quota again, announced). */
  private async addStake (value: bigint): Promise<StakeInfo & { back?: boolean }> {
    await this.c.chain.staking.stake(value)
    const info = await this.c.chain.staking.stakeInfo(this.view.address)
    if (!this.leaving) return info
    this.leaving = false
    this.freeLeaveAt = undefined
    this.store.setQuota(this.quota)
    await saveSettings(this.c.config.datadir, { leaving: false })
    await this.publishOffer(true)
    this.repairs.lookBack()
    return { ...info, back: true }
  }

  private async leaveSummary (o: LeaveOutcome, stake: StakeInfo, now: boolean): Promise<string[]> {
    const chain = this.c.chain
    const [clock, head, msPerBlock] = await Promise.all([this.view.schedule(), chain.blockNumber(), chain.msPerBlock().catch(() => undefined)])
    return leaveSummary(o, stake, now, { ...clock, head, msPerBlock })
  }

  get routes (): Route[] {
    const chain = this.c.chain
    const me = this.view.address
    const amount = (v: unknown): bigint => {
      if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new BadRequestError('Give the amount as a whole number of token base units.')
      return BigInt(v)
    }
    return [
      { method: 'POST', path: '/supply/stake', handler: async (r) => await this.addStake(amount((r.body as Record<string, unknown> | null)?.amount)) },
      { method: 'POST', path: '/supply/offer', handler: async (r) => await this.changeOffer((r.body ?? {}) as Record<string, unknown>) },
      {
        method: 'POST',
        path: '/supply/unstake',
        handler: async (r) => {
          if ((r.body as Record<string, unknown> | null)?.withdraw === true) { await chain.staking.withdraw(); return await chain.staking.stakeInfo(me) }
          const free = await chain.staking.freeStake(me)
          if (free === 0n) throw new BadRequestError('No free stake to unbond: all of it backs slots you hold.')
          await chain.staking.requestUnbond(free)
          const info = await chain.staking.stakeInfo(me)
          // Otherwise the next start would stake it again (ensureRegistered tops up to the setting).
          await saveSettings(this.c.config.datadir, { stake: (info.staked - info.unbonding).toString() })
          return info
        },
      },
      { method: 'POST', path: '/supply/leave', handler: async (r) => await this.leave((r.body as Record<string, unknown> | null)?.now === true) },
      { method: 'GET', path: '/supply/earnings', handler: async () => ({ earnings: await chain.market.earnings(me), ...(await chain.market.totals(me)) }) },
      {
        method: 'POST',
        path: '/supply/earnings',
        handler: async () => {
          for (const f of await this.store.list()) {
            if (f.slot === MANIFEST_SLOT) continue
            if (await chain.market.pendingEarnings(f.dealId as Hex, f.slot) > 0n) await chain.market.settleSlot(f.dealId as Hex, f.slot)
          }
          const before = await chain.market.earnings(me)
          if (before > 0n) await chain.market.claim()
          return { claimed: before, earnings: await chain.market.earnings(me) }
        },
      },
    ]
  }
}

/** The store's methods bound to it, so the guarded backend can spread them. */
function bindAll (store: FragmentStore): FragmentStore {
  return {
    start: async () => { await store.start() },
    stop: async () => { await store.stop() },
    check: store.check.bind(store),
    accept: store.accept.bind(store),
    put: store.put.bind(store),
    stat: store.stat.bind(store),
    has: store.has.bind(store),
    read: store.read.bind(store),
    proof: store.proof.bind(store),
    paths: store.paths.bind(store),
    list: store.list.bind(store),
    delete: store.delete.bind(store),
    gc: store.gc.bind(store),
    usage: store.usage.bind(store),
    setQuota: store.setQuota.bind(store),
  }
}
