import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { resolveDatadir } from '../config/index.ts'
import { ApiClient, findEndpoint } from '../api/client.ts'
import { createOutput } from './output.ts'
import type { Output } from './output.ts'
import { COMMANDS, INTERRUPTED } from './commands.ts'

export interface CommandContext {
  args: string[]
  flags: Record<string, string | boolean | undefined>
  datadir: string
  out: Output
  /** The running node's API; connecting is lazy so local commands never need one. */
  api: () => ApiClient
}

export interface Command {
  /** Words that select it, e.g. ['supply', 'stake']. */
  path: string[]
  usage: string
  summary: string
  options?: ParseArgsConfig['options']
  run: (ctx: CommandContext) => Promise<number | undefined>
}

const GLOBAL: NonNullable<ParseArgsConfig['options']> = {
  datadir: { type: 'string' },
  api: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
}

export function help (): string {
  const lines = COMMANDS.map((c) => `  ${c.usage.padEnd(46)} ${c.summary}`)
  return [
    'bitdust — encrypted, erasure-coded storage on other people\'s disks, settled on chain',
    '',
    'Usage: bitdust <command> [options]',
    '',
    ...lines,
    '',
    'Global options: --datadir DIR (default ~/.bitdust or BITDUST_DATADIR), --api URL (or BITDUST_API),',
    '                --json (machine-readable output), -h/--help',
  ].join('\n')
}

/** Options that take a value, so that `--datadir /x status` does not read `/x` as a command word. */
function valueOptions (): Set<string> {
  const out = new Set<string>()
  for (const opts of [GLOBAL, ...COMMANDS.map((c) => c.options ?? {})]) {
    for (const [name, o] of Object.entries(opts)) {
      if (o.type === 'string') { out.add(`--${name}`); if (o.short !== undefined) out.add(`-${o.short}`) }
    }
  }
  return out
}

function select (argv: string[]): { command: Command, rest: string[] } | undefined {
  const takesValue = valueOptions()
  const words: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a.startsWith('-')) { if (takesValue.has(a)) i++; continue }
    words.push(a)
  }
  let best: Command | undefined
  for (const c of COMMANDS) {
    if (c.path.every((w, i) => words[i] === w) && (best === undefined || c.path.length > best.path.length)) best = c
  }
  if (best === undefined) return undefined
  const rest = [...argv]
  for (const w of best.path) {
    const at = rest.findIndex((a, i) => a === w && !takesValue.has(rest[i - 1] ?? ''))
    rest.splice(at, 1)
  }
  return { command: best, rest }
}

export async function run (argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  const out = createOutput(json)
  const selected = select(argv)
  if (selected === undefined) {
    if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(help() + '\n')
      return 0
    }
    process.stderr.write(`Unknown command: ${argv.join(' ')}\n\n${help()}\n`)
    return 2
  }
  const { command, rest } = selected
  try {
    const { values, positionals } = parseArgs({ args: rest, options: { ...GLOBAL, ...command.options }, allowPositionals: true, strict: true })
    if (values.help === true) {
      process.stdout.write(`Usage: bitdust ${command.usage}\n  ${command.summary}\n`)
      return 0
    }
    const flags = values as Record<string, string | boolean | undefined>
    const datadir = resolveDatadir(flags.datadir as string | undefined)
    let client: ApiClient | undefined
    const api = (): ApiClient => {
      client ??= new ApiClient(findEndpoint({ datadir, ...(typeof flags.api === 'string' ? { api: flags.api } : {}) }))
      return client
    }
    return (await command.run({ args: positionals, flags, datadir, out, api })) ?? 0
  } catch (err) {
    out.done()
    const e = err instanceof Error ? err : new Error(String(err))
    if (json) process.stdout.write(JSON.stringify({ error: { name: e.name, message: e.message } }) + '\n')
    else if (e.name === 'JobCancelledError') process.stderr.write(`${e.message.charAt(0).toUpperCase()}${e.message.slice(1)}.\n`)
    else process.stderr.write(`Error: ${e.message}\n${e.name === 'UsageError' || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true ? `Usage: bitdust ${command.usage}\n` : ''}`)
    if (process.env.BITDUST_DEBUG) process.stderr.write(`${e.stack}\n`)
    if (e.name === 'JobCancelledError') return INTERRUPTED
    return e.name === 'TypeError' && /ERR_PARSE_ARGS/.test((e as { code?: string }).code ?? '') ? 2 : 1
  }
}
