/**
 * `npm run bench -- calls`: the JSON-RPC calls an endpoint serves for BitDust, which a real
 * endpoint meters: per upload and per download of a small file through the devnet (4+2 on 6
 * suppliers, 10+4 on 14), and per minute of the same devnet idle, by method and, for contract
 * reads and estimates, by function. Counted at the devnet's endpoint, so every process's calls
 * are in: the user's node, every supplier, the relay. Background calls (provers, watchtowers,
 * chores) run during a transfer too; the idle rate measured first is taken off each transfer's
 * window, so the "own" columns are what the transfer added.
 *
 * BENCH_CALLS_REPEATS (default 5) sets the transfers per kind; BENCH_NODE_LAYOUTS the layouts.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { toFunctionSelector } from 'viem'
import type { AbiFunction, Hex } from 'viem'
import { startDevnet } from '../../node/devnet/index.ts'
import type { Devnet } from '../../node/devnet/index.ts'
import { bitDustAbis } from '../../node/chain/abis.ts'
import { randomFile } from '../../test/e2e/node/helpers.ts'
import { machine, table, writeSection } from './report.ts'

const MiB = 1 << 20
const FILE = MiB
const REPEATS = Math.max(1, Number(process.env.BENCH_CALLS_REPEATS ?? 5))
const IDLE_MS = 60_000
const LAYOUTS = (process.env.BENCH_NODE_LAYOUTS ?? '4+2,10+4').split(',').map((l) => l.split('+').map(Number) as [number, number])

/** `eth_call:0x12345678` -> `eth_call getDeal`, from the ABIs the node talks through. */
function namer (): (key: string) => string {
  const abis = bitDustAbis()
  const names = new Map<string, string>()
  for (const abi of [abis.market, abis.staking, abis.token]) {
    for (const item of abi) if (item.type === 'function') names.set(toFunctionSelector(item as AbiFunction), item.name)
  }
  return (key) => {
    const [method, selector] = key.split(':')
    return selector === undefined ? key : `${method as string} ${names.get(selector) ?? selector}`
  }
}

type Counts = Map<string, number>

function diff (after: Counts, before: Counts): Counts {
  const out = new Map<string, number>()
  for (const [k, v] of after) if (v - (before.get(k) ?? 0) > 0) out.set(k, v - (before.get(k) ?? 0))
  return out
}

const sum = (c: Counts): number => [...c.values()].reduce((a, b) => a + b, 0)
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] as number : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

interface Window { counts: Counts, ms: number }
interface Layout { layout: string, idle: Window, up: Window[], down: Window[] }

async function counted (net: Devnet, work: () => Promise<void>): Promise<Window> {
  const before = net.chain.calls()
  const t = performance.now()
  await work()
  return { counts: diff(net.chain.calls(), before), ms: performance.now() - t }
}

async function runLayout (k: number, m: number, dir: string): Promise<Layout> {
  const net = await startDevnet({ datadir: join(dir, `user-${k}-${m}`), suppliers: k + m, passphrase: 'bench' })
  try {
    const user = net.user
    if (user === undefined) throw new Error('no user node')
    const file = await randomFile(join(dir, `file-${k}-${m}`), FILE)
    const upload = async (): Promise<Hex> => {
      const job = await user.api.call<{ id: string }>('POST', '/files', { path: file, k, m })
      return ((await user.api.follow(job.id)).result as { id: Hex }).id
    }
    // One of each first: connections, offers and compiled paths, as on a node up for a while.
    let id = await upload()
    const out = join(dir, `out-${k}-${m}`)
    const download = async (): Promise<void> => {
      rmSync(out, { force: true })
      const job = await user.api.call<{ id: string }>('POST', `/files/${id}/download`, { path: out })
      await user.api.follow(job.id)
    }
    await download()
    const idle = await counted(net, async () => { await new Promise((resolve) => setTimeout(resolve, IDLE_MS)) })
    const up: Window[] = []
    for (let i = 0; i < REPEATS; i++) up.push(await counted(net, async () => { id = await upload() }))
    const down: Window[] = []
    for (let i = 0; i < REPEATS; i++) down.push(await counted(net, download))
    return { layout: `${k}+${m}`, idle, up, down }
  } finally {
    await net.stop()
  }
}

/** A transfer's own calls of one kind: its window's count less the idle rate over the window. */
const own = (w: Window, idle: Window, key?: string): number => {
  const count = key === undefined ? sum(w.counts) : (w.counts.get(key) ?? 0)
  const background = key === undefined ? sum(idle.counts) : (idle.counts.get(key) ?? 0)
  return Math.max(0, count - background * w.ms / idle.ms)
}

async function main (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bitdust-bench-calls-'))
  const rows: Layout[] = []
  try {
    for (const [k, m] of LAYOUTS) {
      process.stdout.write(`calls bench: ${k}+${m} on ${k + m} suppliers …\n`)
      const r = await runLayout(k, m, dir)
      process.stdout.write(`  idle ${(sum(r.idle.counts) * 60_000 / r.idle.ms).toFixed(0)} calls/min; upload ${median(r.up.map((w) => own(w, r.idle))).toFixed(0)} own calls, download ${median(r.down.map((w) => own(w, r.idle))).toFixed(0)}\n`)
      rows.push(r)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const name = namer()
  const keys = [...new Set(rows.flatMap((r) => [r.idle, ...r.up, ...r.down].flatMap((w) => [...w.counts.keys()])))]
  const cell = (r: Layout, key: string): [string, string, string] => [
    (((r.idle.counts.get(key) ?? 0) * 60_000) / r.idle.ms).toFixed(1),
    median(r.up.map((w) => own(w, r.idle, key))).toFixed(1),
    median(r.down.map((w) => own(w, r.idle, key))).toFixed(1),
  ]
  const byMethod = keys
    .map((key) => ({ key, weight: rows.reduce((a, r) => a + Number(cell(r, key)[1]) + Number(cell(r, key)[0]), 0) }))
    .sort((a, b) => b.weight - a.weight)
    .map(({ key }) => [name(key), ...rows.flatMap((r) => cell(r, key))])
  const head = ['method', ...rows.flatMap((r) => [`${r.layout} idle / min`, `${r.layout} per upload`, `${r.layout} per download`])]
  writeSection('calls', [
    '## JSON-RPC calls (`npm run bench -- calls`)',
    '',
    `Command: \`npm run bench -- calls\` on ${machine()}.`,
    `Counted at the devnet's endpoint (every process: the user's node, the suppliers, the relay; devnet periods of 20 one-second blocks): ${IDLE_MS / 1000} s of the devnet idle after one upload and one download, then ${REPEATS} uploads of a ${FILE / MiB} MiB file and ${REPEATS} downloads of it.`,
    'A transfer\'s own calls are those in its window less the idle rate over the window (medians; background work runs during a transfer too, so single methods can read 0 where the idle rate covered them).',
    '',
    table(['layout', 'idle calls / min', 'per upload (own)', 'per upload (window, median)', 'per download (own)', 'upload seconds (median)'],
      rows.map((r) => [r.layout, (sum(r.idle.counts) * 60_000 / r.idle.ms).toFixed(0), median(r.up.map((w) => own(w, r.idle))).toFixed(0), median(r.up.map((w) => sum(w.counts))).toFixed(0), median(r.down.map((w) => own(w, r.idle))).toFixed(0), median(r.up.map((w) => w.ms / 1000)).toFixed(1)])),
    '',
    'By method (contract reads and estimates by function):',
    '',
    table(head, byMethod),
  ].join('\n'))
}

await main()
