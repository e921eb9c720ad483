/** Every CLI command. API-backed ones are thin: the node does the work, the CLI shows it. */
import { resolve } from 'node:path'
import type { Command, CommandContext } from './run.ts'
import type { JobView } from '../api/jobs.ts'
import { tableOf } from './output.ts'
import { duration, human, tokens } from '../util/units.ts'

const str = (ctx: CommandContext, name: string): string | undefined => {
  const v = ctx.flags[name]
  return typeof v === 'string' ? v : undefined
}

function need (ctx: CommandContext, n: number, what: string): string[] {
  if (ctx.args.length < n) throw new UsageError(`Missing ${what}.`)
  return ctx.args
}

/** Totals that are token amounts (the others count proofs, bytes or byte-periods). */
const MONEY = new Set(['earnings', 'earned', 'slashed', 'paid', 'refunded', 'claimed', 'unclaimed', 'balance', 'staked', 'locked', 'unbonding'])

/** The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells expect. */
export const INTERRUPTED = 130

export class UsageError extends Error {
  override name = 'UsageError'
}

/** Starts a job through the API, draws its progress, returns its result. */
/** Where a job is, in a few words: its stage and share done, or how it ended. */
export function jobProgress (j: JobView): string {
  if (j.state === 'failed' || j.state === 'cancelled') return j.error?.message ?? j.state
  if (j.state === 'done') {
    // Its outcome, not its last progress line (which an upload ends on "storing the manifest").
    const r = (j.result ?? {}) as { path?: string, name?: string, id?: string }
    return r.path !== undefined ? `saved ${r.path}` : r.name !== undefined ? `stored ${r.name}${r.id !== undefined ? ` as ${r.id}` : ''}` : 'done'
  }
  const p = j.progress
  if (p === undefined) return ''
  const share = p.total !== undefined && p.total > 0 && p.done !== undefined ? ` ${Math.floor(100 * p.done / p.total)} %` : ''
  return `${p.stage}${share}${p.message !== undefined ? `: ${p.message}` : ''}`
}

/** A status value: lists one item a line, sections as `key value` pairs, both under the value column. */
function shown (x: unknown): string {
  const pad = '\n' + ' '.repeat(13)
  if (Array.isArray(x)) return x.length === 0 ? '(none)' : x.map(String).join(pad)
  if (x !== null && typeof x === 'object') return Object.entries(x).map(([k, v]) => `${k} ${String(v)}`).join(pad)
  return String(x)
}

/** A file's slots proven in the last period, for `ls`. */
function proven (f: Record<string, unknown>): string {
  if (typeof f.proven !== 'number') return '-'
  const missed = f.missed as number
  if (f.proven === 0 && missed === 0) return 'not due yet'
  return `${f.proven}/${String(f.slots)}${missed > 0 ? ` (${missed} missed)` : ''}`
}

/** When a file's deal ends, for `ls`: its storage is paid until then. */
function ends (f: Record<string, unknown>): string {
  if (typeof f.endsAt === 'string') return `in ${duration(Date.parse(f.endsAt) - Date.now())}`
  if (typeof f.periodsLeft === 'number') return `in ${f.periodsLeft} periods`
  if (f.state === 'filling') return 'not started'
  return ['ended', 'cancelled', 'failed', 'finalized'].includes(f.state as string) ? 'ended' : '-'
}

async function job (ctx: CommandContext, path: string, body: unknown): Promise<JobView> {
  const started = await ctx.api().call<JobView>('POST', path, body)
  // The job runs in the node: Ctrl-C asks the node to cancel it (an upload whose deal opened is
  // rolled back) and follows it to its end; a second Ctrl-C leaves it running there.
  let cancelling = false
  const onInterrupt = (): void => {
    if (cancelling) {
      ctx.out.done()
      process.stderr.write(`Left running in the node as job ${started.id} (\`bitdust jobs\` shows how it goes).\n`)
      process.exit(INTERRUPTED)
    }
    cancelling = true
    ctx.out.done()
    process.stderr.write('Cancelling… (Ctrl-C again to leave it running in the node)\n')
    ctx.api().call('DELETE', `/jobs/${started.id}`).catch(() => {})
  }
  process.on('SIGINT', onInterrupt)
  try {
    return await ctx.api().follow(started.id, (j) => { if (!cancelling) ctx.out.progress(j) })
  } finally {
    process.off('SIGINT', onInterrupt)
    ctx.out.done()
  }
}

const local = (loader: () => Promise<{ default: (ctx: CommandContext) => Promise<number | undefined> }>) =>
  async (ctx: CommandContext) => (await loader()).default(ctx)

export const COMMANDS: Command[] = [
  {
    path: ['init'],
    usage: 'init [--import KEYSTORE]',
    summary: 'create your identity (a key pair, no personal data) and its encrypted keystore',
    options: { import: { type: 'string' }, force: { type: 'boolean' } },
    run: local(async () => await import('./local/init.ts')),
  },
  {
    path: ['start'],
    usage: 'start [--supply] [--quota 10GiB] [--price N] [--stake N] [--relay] [--hide] [--nice 0-19]',
    summary: 'run your node (and its HTTP API on 127.0.0.1) until Ctrl-C',
    options: {
      supply: { type: 'boolean' }, quota: { type: 'string' }, price: { type: 'string' }, stake: { type: 'string' },
      relay: { type: 'boolean' }, hide: { type: 'boolean' }, relays: { type: 'string' }, listen: { type: 'string' },
      'api-port': { type: 'string' }, network: { type: 'string' }, bootstrap: { type: 'string' }, nice: { type: 'string' },
    },
    run: local(async () => await import('./local/start.ts')),
  },
  {
    path: ['devnet'],
    usage: 'devnet [--suppliers 6]',
    summary: 'a whole network on this machine: chain, contracts, suppliers, a relay and your node',
    options: { suppliers: { type: 'string' }, 'period-blocks': { type: 'string' }, 'block-ms': { type: 'string' } },
    run: local(async () => await import('./local/devnet.ts')),
  },
  {
    path: ['jobs'],
    usage: 'jobs',
    summary: 'the node\'s uploads and downloads (and resumed uploads, restores), running or done since it started',
    run: async (ctx) => {
      const jobs = await ctx.api().call<JobView[]>('GET', '/jobs')
      ctx.out.result(jobs, (v) => tableOf((v as JobView[]).map((j) => ({ ...j, progress: jobProgress(j), started: new Date(j.started).toLocaleTimeString() })), ['id', 'kind', 'state', 'progress', 'started']))
      return 0
    },
  },
  {
    path: ['status'],
    usage: 'status',
    summary: 'your node: identity, network, peers, balances',
    run: async (ctx) => {
      const s = await ctx.api().call<Record<string, unknown>>('GET', '/status')
      ctx.out.result(s, (v) => Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k.padEnd(12)} ${k === 'tokens' ? tokens(x as string) : k === 'eth' ? tokens(x as string, 18, 'ETH (gas)') : shown(x)}`).join('\n'))
      return 0
    },
  },
  {
    path: ['upload'],
    usage: 'upload FILE [--k 4 --m 2 --periods N --price N]',
    summary: 'encrypt, erasure-code and store a file with staked suppliers',
    options: { k: { type: 'string' }, m: { type: 'string' }, periods: { type: 'string' }, price: { type: 'string' }, name: { type: 'string' } },
    run: async (ctx) => {
      const [file] = need(ctx, 1, 'FILE to upload')
      const j = await job(ctx, '/files', {
        path: resolve(file as string), name: str(ctx, 'name'), k: str(ctx, 'k'), m: str(ctx, 'm'), periods: str(ctx, 'periods'), price: str(ctx, 'price'),
      })
      ctx.out.result(j.result, (r) => { const f = r as { id: string, name: string, size: number }; return `Uploaded ${f.name} (${human(f.size)}) as ${f.id}` })
      return 0
    },
  },
  {
    path: ['download'],
    usage: 'download ID [-o PATH]',
    summary: 'fetch any k fragments, rebuild and decrypt a file',
    options: { output: { type: 'string', short: 'o' } },
    run: async (ctx) => {
      const [id] = need(ctx, 1, 'file ID (see `bitdust ls`)')
      const o = str(ctx, 'output')
      const j = await job(ctx, `/files/${encodeURIComponent(id as string)}/download`, { path: o === undefined ? undefined : resolve(o), dir: process.cwd() })
      ctx.out.result(j.result, (r) => `Saved ${(r as { path: string }).path}`)
      return 0
    },
  },
  {
    path: ['ls'],
    usage: 'ls',
    summary: 'your files and their health (fragments held and proven)',
    run: async (ctx) => {
      const files = await ctx.api().call<Array<Record<string, unknown>>>('GET', '/files')
      ctx.out.result(files, (v) => tableOf((v as Array<Record<string, unknown>>).map((f) => ({ ...f, size: human(f.size as number), proven: proven(f), ends: ends(f) })), ['id', 'name', 'size', 'health', 'proven', 'state', 'ends']))
      return 0
    },
  },
  {
    path: ['renew'],
    usage: 'renew ID [--periods N]',
    summary: 'keep a file stored N more periods at its price (its holders keep it; nothing is sent again)',
    options: { periods: { type: 'string' } },
    run: async (ctx) => {
      const [id] = need(ctx, 1, 'file ID')
      const r = await ctx.api().call<Record<string, unknown>>('POST', `/files/${encodeURIComponent(id as string)}/renew`, { periods: str(ctx, 'periods') })
      ctx.out.result(r, (v) => {
        const x = v as { name: string, periods: number, paid: string }
        const until = ends(v as Record<string, unknown>)
        return `Kept ${x.name} ${x.periods} more periods for ${tokens(x.paid)}${until === '-' || until === 'not started' ? '' : `; its storage now ends ${until}`}.`
      })
      return 0
    },
  },
  {
    path: ['rm'],
    usage: 'rm ID',
    summary: 'cancel a file\'s deal (pays only elapsed periods) and forget it',
    run: async (ctx) => {
      const [id] = need(ctx, 1, 'file ID')
      const r = await ctx.api().call('DELETE', `/files/${encodeURIComponent(id as string)}`)
      ctx.out.result(r, () => `Removed ${id as string}`)
      return 0
    },
  },
  {
    path: ['contacts', 'add'],
    usage: 'contacts add NAME PUBLIC_KEY',
    summary: 'remember a contact by the public key they gave you (`bitdust status` shows yours)',
    run: async (ctx) => {
      const [name, key] = need(ctx, 2, 'NAME and PUBLIC_KEY')
      const r = await ctx.api().call('POST', '/contacts', { name, publicKey: key })
      ctx.out.result(r, () => `Added ${name as string}`)
      return 0
    },
  },
  {
    path: ['contacts', 'ls'],
    usage: 'contacts ls',
    summary: 'your contacts',
    run: async (ctx) => {
      const r = await ctx.api().call<Array<Record<string, unknown>>>('GET', '/contacts')
      ctx.out.result(r, (v) => tableOf(v as Array<Record<string, unknown>>, ['name', 'address', 'online']))
      return 0
    },
  },
  {
    path: ['share'],
    usage: 'share ID CONTACT',
    summary: 'grant a contact the key to one of your files',
    run: async (ctx) => {
      const [id, contact] = need(ctx, 2, 'file ID and CONTACT')
      const r = await ctx.api().call('POST', `/files/${encodeURIComponent(id as string)}/share`, { contact })
      ctx.out.result(r, () => `Shared ${id as string} with ${contact as string}`)
      return 0
    },
  },
  {
    path: ['chat', 'send'],
    usage: 'chat send CONTACT TEXT',
    summary: 'an end-to-end encrypted message (waits and retries if they are offline)',
    run: async (ctx) => {
      const [to, ...words] = need(ctx, 2, 'CONTACT and TEXT')
      const r = await ctx.api().call('POST', '/chat', { to, text: words.join(' ') })
      ctx.out.result(r, (v) => `Sent (${(v as { state?: string }).state ?? 'queued'})`)
      return 0
    },
  },
  {
    path: ['chat', 'history'],
    usage: 'chat history CONTACT',
    summary: 'messages with a contact',
    run: async (ctx) => {
      const [who] = need(ctx, 1, 'CONTACT')
      const r = await ctx.api().call<Array<Record<string, unknown>>>('GET', `/chat/${encodeURIComponent(who as string)}`)
      ctx.out.result(r, (v) => (v as Array<{ from: string, text: string, time: number }>).map((m) => `${new Date(m.time).toISOString()} ${m.from}: ${m.text}`).join('\n') || '(no messages)')
      return 0
    },
  },
  {
    path: ['group', 'create'],
    usage: 'group create NAME',
    summary: 'a group chat (encrypted with a key only members hold)',
    run: async (ctx) => {
      const [name] = need(ctx, 1, 'NAME')
      const r = await ctx.api().call('POST', '/groups', { name })
      ctx.out.result(r, (v) => `Created group ${(v as { id: string }).id}`)
      return 0
    },
  },
  {
    path: ['group', 'invite'],
    usage: 'group invite GROUP CONTACT',
    summary: 'give a contact the group key',
    run: async (ctx) => {
      const [group, contact] = need(ctx, 2, 'GROUP and CONTACT')
      const r = await ctx.api().call('POST', `/groups/${encodeURIComponent(group as string)}/invite`, { contact })
      ctx.out.result(r, () => `Invited ${contact as string}`)
      return 0
    },
  },
  {
    path: ['group', 'send'],
    usage: 'group send GROUP TEXT',
    summary: 'a message to the group',
    run: async (ctx) => {
      const [group, ...words] = need(ctx, 2, 'GROUP and TEXT')
      const r = await ctx.api().call('POST', `/groups/${encodeURIComponent(group as string)}/messages`, { text: words.join(' ') })
      ctx.out.result(r, () => 'Sent')
      return 0
    },
  },
  {
    path: ['group', 'history'],
    usage: 'group history GROUP',
    summary: 'the group\'s messages',
    run: async (ctx) => {
      const [group] = need(ctx, 1, 'GROUP')
      const r = await ctx.api().call<Array<Record<string, unknown>>>('GET', `/groups/${encodeURIComponent(group as string)}/messages`)
      ctx.out.result(r, (v) => (v as Array<{ from: string, text: string, time: number }>).map((m) => `${new Date(m.time).toISOString()} ${m.from}: ${m.text}`).join('\n') || '(no messages)')
      return 0
    },
  },
  {
    path: ['supply', 'stake'],
    usage: 'supply stake AMOUNT',
    summary: 'stake tokens (base units) as collateral for the slots you hold',
    run: async (ctx) => {
      const [amount] = need(ctx, 1, 'AMOUNT')
      const r = await ctx.api().call('POST', '/supply/stake', { amount })
      ctx.out.result(r, (v) => `Staked ${tokens(amount as string)}${(v as { back?: boolean }).back === true ? '. You were leaving: you take fragments again, up to your quota.' : ''}`)
      return 0
    },
  },
  {
    path: ['supply', 'offer'],
    usage: 'supply offer [--quota 10GiB] [--price N]',
    summary: 'announce (or update) your capacity and price to the network',
    options: { quota: { type: 'string' }, price: { type: 'string' } },
    run: async (ctx) => {
      const r = await ctx.api().call('POST', '/supply/offer', { quota: str(ctx, 'quota'), price: str(ctx, 'price') })
      ctx.out.result(r, (v) => {
        const o = v as { price: string, quota: number, used: number, capacity: number, saved?: string }
        return [
          `Offer published: ${o.price} base units per byte-period, ${human(o.capacity)} free of a ${human(o.quota)} quota.`,
          ...(o.saved !== undefined ? [`Saved in ${o.saved} for the next start (a --price or --quota flag, or BITDUST_PRICE / BITDUST_QUOTA, still wins).`] : []),
        ].join('\n')
      })
      return 0
    },
  },
  {
    path: ['supply', 'unstake'],
    usage: 'supply unstake [--withdraw]',
    summary: 'start unbonding your free stake (or withdraw it once unbonded)',
    options: { withdraw: { type: 'boolean' } },
    run: async (ctx) => {
      const r = await ctx.api().call('POST', '/supply/unstake', { withdraw: ctx.flags.withdraw === true })
      ctx.out.result(r, (v) => Object.entries(v as Record<string, string>).map(([k, x]) => `${k.padEnd(18)} ${MONEY.has(k) ? tokens(x) : String(x)}`).join('\n'))
      return 0
    },
  },
  {
    path: ['supply', 'leave'],
    usage: 'supply leave [--now]',
    summary: 'stop supplying: take nothing new, release slots as their deals end (--now: give them up at once for their collateral), unbond and withdraw the stake',
    options: { now: { type: 'boolean' } },
    run: async (ctx) => {
      const r = await ctx.api().call<{ summary: string[] }>('POST', '/supply/leave', { now: ctx.flags.now === true })
      ctx.out.result(r, (v) => (v as { summary: string[] }).summary.join('\n'))
      return 0
    },
  },
  {
    path: ['supply', 'earnings'],
    usage: 'supply earnings [--claim]',
    summary: 'what you have earned for proven periods (and claim it)',
    options: { claim: { type: 'boolean' } },
    run: async (ctx) => {
      const r = await ctx.api().call<Record<string, string>>(ctx.flags.claim === true ? 'POST' : 'GET', '/supply/earnings')
      ctx.out.result(r, (v) => Object.entries(v as Record<string, string>).map(([k, x]) => `${k.padEnd(18)} ${MONEY.has(k) ? tokens(x) : String(x)}`).join('\n'))
      return 0
    },
  },
  {
    path: ['balance'],
    usage: 'balance',
    summary: 'your tokens, stake and escrow',
    run: async (ctx) => {
      const r = await ctx.api().call<Record<string, string>>('GET', '/balance')
      ctx.out.result(r, (v) => Object.entries(v as Record<string, string>).map(([k, x]) => `${k.padEnd(10)} ${k === 'eth' ? tokens(x, 18, 'ETH (gas)') : tokens(x)}`).join('\n'))
      return 0
    },
  },
  {
    path: ['ledger'],
    usage: 'ledger [ACCOUNT]',
    summary: 'an account\'s statement rebuilt from chain events',
    run: async (ctx) => {
      const account = ctx.args[0]
      const r = await ctx.api().call<{ lines: Array<Record<string, unknown>>, totals: Record<string, unknown> }>('GET', `/ledger${account ? `?account=${account}` : ''}`)
      ctx.out.result(r, (v) => {
        const l = v as { lines: Array<Record<string, string>>, totals: Record<string, string> }
        const lines = l.lines.map((x) => ({ ...x, amount: x.amount === '0' ? '' : tokens(x.amount as string) }))
        const totals = Object.entries(l.totals).map(([k, x]) => `  ${k.padEnd(18)} ${MONEY.has(k) ? tokens(x) : x}`)
        return `${tableOf(lines, ['block', 'event', 'amount', 'detail'])}\n\nTotals\n${totals.join('\n')}`
      })
      return 0
    },
  },
  {
    path: ['audit'],
    usage: 'audit',
    summary: 'rebuild every account from events and compare with the contracts (exit 1 on any difference)',
    run: async (ctx) => {
      const r = await ctx.api().call<{ accounts: number, differences: unknown[] }>('GET', '/audit')
      ctx.out.result(r, (v) => {
        const a = v as { accounts: number, differences: unknown[] }
        return a.differences.length === 0 ? `OK: ${a.accounts} accounts, no difference` : `${a.differences.length} differences:\n${a.differences.map((d) => JSON.stringify(d)).join('\n')}`
      })
      return r.differences.length === 0 ? 0 : 1
    },
  },
]
