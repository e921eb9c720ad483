/**
 * A deal's term, from the consumer's side: the checks a new deal's terms pass before any byte is
 * sent, when each deal ends (periods and time), and renewal, asked for (`bitdust renew`) or done
 * by the watch loop as a deal nears its end so that files stay stored until removed.
 */
import type { Hex } from 'viem'
import { BadRequestError } from '../api/errors.ts'
import type { BitDustChain } from '../chain/client.ts'
import { MarketApi } from '../chain/market.ts'
import type { Deal, DealStatusName, MarketConfig } from '../chain/types.ts'
import { log } from '../log.ts'
import { tokens } from '../util/units.ts'
import type { FileRecord, FilesDb } from './files-db.ts'

const logger = log('consumer:terms')

export interface DealTermsInit {
  /** The default term of a deal, and of a renewal. */
  periods: number
  /** Renew own files whose deals end within a tenth of that term. */
  autoRenew: boolean
}

export class DealTerms {
  private readonly chain: BitDustChain
  private readonly files: FilesDb
  private readonly init: DealTermsInit
  private config: Promise<MarketConfig> | undefined
  /** End period of each own active deal as last read: it moves only when we renew it. */
  private readonly ends = new Map<string, bigint>()
  /** Why the last automatic renewal failed, until one succeeds. */
  private renewError: string | undefined

  constructor (chain: BitDustChain, files: FilesDb, init: DealTermsInit) {
    this.chain = chain
    this.files = files
    this.init = init
  }

  /** Refuses terms the market would revert on or the account cannot pay, saying which and why. */
  async check (t: { slots: number, fragmentSize: bigint, periods: number, price: bigint }): Promise<void> {
    const max = (await this.marketConfig()).maxDurationPeriods
    if (BigInt(t.periods) > max) throw new BadRequestError(`A deal on this network runs at most ${max} periods; ${t.periods} were asked. Choose fewer with --periods.`)
    const escrow = MarketApi.costOf(t.slots, t.fragmentSize, t.price, t.periods)
    const balance = await this.chain.token.balanceOf()
    if (balance < escrow) {
      throw new BadRequestError(`This upload puts ${tokens(escrow)} in escrow (${t.slots} fragments of ${t.fragmentSize} bytes at ${t.price} per byte-period for ${t.periods} periods), ` +
        `but your account holds ${tokens(balance)}. Add tokens to your account (\`bitdust status\` shows its address), offer a lower price, or store it for fewer periods.`)
    }
  }

  /**
   * When a deal ends, in periods and (from the chain's recent block rate) as a time: three reads
   * for any number of deals.
   */
  async reader (): Promise<(deal: Deal, status: DealStatusName) => Record<string, unknown>> {
    const [current, periodBlocks, msPerBlock] = await Promise.all([
      this.chain.market.currentPeriod(), this.marketConfig().then((c) => c.periodBlocks), this.chain.msPerBlock().catch(() => undefined),
    ])
    return (deal, status) => {
      if (status !== 'Active') return {}
      const left = BigInt(deal.endPeriod) > current ? BigInt(deal.endPeriod) - current : 0n
      const ms = msPerBlock === undefined ? undefined : Number(left * periodBlocks) * msPerBlock
      return { endPeriod: deal.endPeriod, periodsLeft: Number(left), ...(ms !== undefined ? { endsAt: new Date(Date.now() + ms).toISOString() } : {}) }
    }
  }

  /**
   * Keeps one of the user's files stored `periods` more periods (default: the configured term) at
   * its deal's price: its holders keep their slots, nothing is sent again. `clamp`: take what the
   * market still allows instead of refusing a longer term.
   */
  async renew (id: string, periods?: number, options: { clamp?: boolean } = {}): Promise<Record<string, unknown>> {
    const record = await this.files.resolve(id)
    if (record.origin !== 'own') throw new BadRequestError(`${record.name} was shared with you: only its owner can keep it stored longer.`)
    const m = this.chain.market
    const [status, deal, config] = await Promise.all([m.dealStatus(record.id), m.getDeal(record.id), this.marketConfig()])
    if (status !== 'Active' && status !== 'Filling') {
      throw new BadRequestError(`The deal of ${record.name} is ${status.toLowerCase()}: it cannot be extended any more. Upload the file again to store it anew.`)
    }
    const room = config.maxDurationPeriods - BigInt(deal.durationPeriods)
    const asked = periods ?? this.init.periods
    const n = options.clamp === true && room > 0n && BigInt(asked) > room ? Number(room) : asked
    if (BigInt(n) > room) {
      throw new BadRequestError(`The deal of ${record.name} may run ${room} more periods at most (${config.maxDurationPeriods} in all on this network); ${n} were asked.` +
        (room > 0n ? ' Choose fewer with --periods.' : ' Upload the file again for a new deal.'))
    }
    const cost = MarketApi.costOf(deal.dataSlots + deal.paritySlots, deal.fragmentSize, deal.pricePerBytePeriod, n)
    const balance = await this.chain.token.balanceOf()
    if (balance < cost) {
      throw new BadRequestError(`Keeping ${record.name} ${n} more periods puts ${tokens(cost)} in escrow, but your account holds ${tokens(balance)}. Add tokens to your account (\`bitdust status\` shows its address), or ask for fewer periods.`)
    }
    await m.extendDeal(record.id, n)
    const [after, term] = await Promise.all([m.getDeal(record.id), this.reader()])
    return { id: record.id, name: record.name, periods: n, paid: cost, durationPeriods: after.durationPeriods, ...term(after, status) }
  }

  /**
   * Renews each own active file whose deal ends within a tenth of the configured term, by that
   * term: files stay stored until removed, as long as the account can pay. One read per round, plus
   * one per file the first time and after each renewal.
   */
  async renewDue (active: FileRecord[]): Promise<void> {
    if (!this.init.autoRenew) return
    const m = this.chain.market
    const current = await m.currentPeriod()
    const within = BigInt(Math.max(2, Math.ceil(this.init.periods / 10)))
    for (const r of active) {
      const key = r.id.toLowerCase()
      let end = this.ends.get(key)
      if (end === undefined) {
        end = BigInt((await m.getDeal(r.id as Hex)).endPeriod)
        this.ends.set(key, end)
      }
      if (end - current > within) continue
      try {
        const done = await this.renew(r.id, undefined, { clamp: true })
        this.ends.delete(key)
        this.renewError = undefined
        logger('renewed %s (%s) for %d periods', r.name, r.id, done.periods)
      } catch (err) {
        // Read again next round: the account may be topped up, or the deal over.
        this.ends.delete(key)
        this.renewError = `${r.name}: ${(err as Error).message}`
        logger('renewing %s: %s', r.id, (err as Error).message)
      }
    }
  }

  /** For the node's status: why the last automatic renewal failed, if it did. */
  status (): Record<string, string> {
    return this.renewError !== undefined ? { renewal: `failed: ${this.renewError}` } : {}
  }

  /** The market's parameters, fixed at deployment: read once (again only after a failed read). */
  private async marketConfig (): Promise<MarketConfig> {
    return await (this.config ??= this.chain.market.config().catch((err: unknown) => { this.config = undefined; throw err }))
  }
}
