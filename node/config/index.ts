/**
 * Configuration, resolved once at start-up from four layers, later ones winning:
 *   defaults → <datadir>/config.json (+ network.json) → environment (BITDUST_*) → flags.
 * Money and sizes are bigint; in files and the environment they are decimal strings.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import {
  CONFIG_FILE, DEFAULT_API_HOST, DEFAULT_WATCH_MS, DEFAULT_DATADIR, DEFAULT_K, DEFAULT_LISTEN, DEFAULT_M, DEFAULT_PERIODS, DEFAULT_QUOTA, NETWORK_FILE,
} from './constants.ts'
import { ConfigError } from './errors.ts'
import type { NetworkProfile, NodeConfig } from './types.ts'
import { MAX_NICE } from '../util/priority.ts'
import { writeFileAtomically } from '../util/files.ts'

export * from './constants.ts'
export * from './errors.ts'
export type * from './types.ts'

/** The loose shape every layer is written in before validation. */
export interface RawConfig {
  network?: string | Partial<RawNetwork>
  listen?: string[] | string
  apiHost?: string
  apiPort?: number | string
  supply?: boolean | string
  quota?: string | number
  price?: string | number
  stake?: string | number
  /** Set by `supply leave`: take nothing new, unbond and withdraw the stake as it frees. */
  leaving?: boolean | string
  /** Watch a few other suppliers' proofs each period and mark their misses (node/supplier/watchtower.ts). */
  watch?: boolean | string
  relayServe?: boolean | string
  hide?: boolean | string
  relays?: string[] | string
  k?: number | string
  m?: number | string
  periods?: number | string
  autoRenew?: boolean | string
  watchMs?: number | string
  nice?: number | string
}

interface RawNetwork {
  name: string
  rpcUrl: string
  chainId: number | string
  contracts: Partial<Record<'token' | 'staking' | 'market', string>>
  deployBlock: number | string
  bootstrap: string[] | string
}

const ENV: Record<string, keyof RawConfig> = {
  BITDUST_LISTEN: 'listen',
  BITDUST_API_HOST: 'apiHost',
  BITDUST_API_PORT: 'apiPort',
  BITDUST_SUPPLY: 'supply',
  BITDUST_QUOTA: 'quota',
  BITDUST_PRICE: 'price',
  BITDUST_STAKE: 'stake',
  BITDUST_WATCH: 'watch',
  BITDUST_RELAY_SERVE: 'relayServe',
  BITDUST_HIDE: 'hide',
  BITDUST_RELAYS: 'relays',
  BITDUST_K: 'k',
  BITDUST_M: 'm',
  BITDUST_PERIODS: 'periods',
  BITDUST_AUTO_RENEW: 'autoRenew',
  BITDUST_WATCH_MS: 'watchMs',
  BITDUST_NICE: 'nice',
}

export interface LoadConfigOptions {
  datadir?: string
  env?: NodeJS.ProcessEnv
  flags?: RawConfig
}

export function resolveDatadir (datadir?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(datadir ?? env.BITDUST_DATADIR ?? DEFAULT_DATADIR)
}

export function loadConfig (options: LoadConfigOptions = {}): NodeConfig {
  const env = options.env ?? process.env
  const datadir = resolveDatadir(options.datadir, env)
  const file = readJson(join(datadir, CONFIG_FILE)) as RawConfig | undefined
  const fromEnv: RawConfig = {}
  for (const [name, key] of Object.entries(ENV)) {
    const value = env[name]
    if (value !== undefined && value !== '') (fromEnv as Record<string, unknown>)[key] = value
  }
  const network = resolveNetwork(datadir, file, env, options.flags)
  const raw: RawConfig = { ...file, ...fromEnv, ...stripUndefined(options.flags ?? {}) }
  return {
    datadir,
    network,
    listen: list(raw.listen) ?? DEFAULT_LISTEN,
    api: { host: raw.apiHost ?? DEFAULT_API_HOST, port: int(raw.apiPort, 'apiPort') ?? 0 },
    supply: {
      enabled: bool(raw.supply) ?? false,
      quota: amount(raw.quota, 'quota') ?? DEFAULT_QUOTA,
      price: amount(raw.price, 'price') ?? 1n,
      stake: amount(raw.stake, 'stake') ?? 0n,
      leaving: bool(raw.leaving) ?? false,
      watch: bool(raw.watch) ?? true,
    },
    relay: {
      serve: bool(raw.relayServe) ?? false,
      hide: bool(raw.hide) ?? false,
      relays: list(raw.relays) ?? [],
    },
    watchMs: int(raw.watchMs, 'watchMs') ?? DEFAULT_WATCH_MS,
    k: int(raw.k, 'k') ?? DEFAULT_K,
    m: int(raw.m, 'm') ?? DEFAULT_M,
    periods: positive(raw.periods, 'periods') ?? DEFAULT_PERIODS,
    autoRenew: bool(raw.autoRenew) ?? true,
    nice: nice(raw.nice),
  }
}

/**
 * The network profile: `network` in config.json (inline or a path), else <datadir>/network.json,
 * then BITDUST_NETWORK (a path) and single-field overrides (BITDUST_RPC_URL, BITDUST_CHAIN_ID,
 * BITDUST_BOOTSTRAP), then flags.
 */
function resolveNetwork (datadir: string, file: RawConfig | undefined, env: NodeJS.ProcessEnv, flags?: RawConfig): NetworkProfile | undefined {
  let net: Partial<RawNetwork> | undefined = load(file?.network) ?? (readJson(join(datadir, NETWORK_FILE)) as Partial<RawNetwork> | undefined)
  const fromEnv = env.BITDUST_NETWORK ? load(env.BITDUST_NETWORK) : undefined
  if (fromEnv) net = fromEnv
  const fromFlags = load(flags?.network)
  if (fromFlags) net = fromFlags
  if (env.BITDUST_RPC_URL) net = { ...net, rpcUrl: env.BITDUST_RPC_URL }
  if (env.BITDUST_CHAIN_ID) net = { ...net, chainId: env.BITDUST_CHAIN_ID }
  if (env.BITDUST_BOOTSTRAP) net = { ...net, bootstrap: env.BITDUST_BOOTSTRAP }
  if (net === undefined) return undefined
  return parseNetwork(net)

  function load (value: RawConfig['network'] | undefined): Partial<RawNetwork> | undefined {
    if (value === undefined) return undefined
    if (typeof value !== 'string') return value
    const path = resolve(datadir, value)
    const json = readJson(path)
    if (json === undefined) throw new ConfigError(`The network profile ${path} does not exist.`)
    return json as Partial<RawNetwork>
  }
}

export function parseNetwork (net: Partial<RawNetwork>): NetworkProfile {
  const need = (cond: unknown, what: string): void => {
    if (!cond) throw new ConfigError(`The network profile has no valid ${what}.`)
  }
  need(typeof net.rpcUrl === 'string' && /^(https?|wss?):\/\//.test(net.rpcUrl), 'rpcUrl (an http(s) or ws(s) URL)')
  const chainId = int(net.chainId, 'chainId')
  need(chainId !== undefined && chainId > 0, 'chainId')
  const c = net.contracts ?? {}
  for (const name of ['token', 'staking', 'market'] as const) need(isAddress(c[name]), `contracts.${name} address`)
  return {
    name: net.name ?? 'custom',
    rpcUrl: net.rpcUrl as string,
    chainId: chainId as number,
    contracts: c as NetworkProfile['contracts'],
    deployBlock: int(net.deployBlock, 'deployBlock') ?? 0,
    bootstrap: list(net.bootstrap) ?? [],
  }
}

function isAddress (v: unknown): v is `0x${string}` {
  return typeof v === 'string' && /^0x[0-9a-fA-F]{40}$/.test(v)
}

/**
 * Merges `patch` into <datadir>/config.json, so that a setting changed on a running node (a
 * supplier's price and quota) holds after a restart. Environment and flags still override it.
 */
export async function saveSettings (datadir: string, patch: RawConfig): Promise<string> {
  const path = join(datadir, CONFIG_FILE)
  const current = (readJson(path) ?? {}) as RawConfig
  await writeFileAtomically(path, JSON.stringify({ ...current, ...patch }, null, 2) + '\n')
  return path
}

function readJson (path: string): unknown {
  if (!existsSync(path)) return undefined
  try {
    return JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON (${(err as Error).message}). Fix or delete it.`)
  }
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

function list (v: string[] | string | undefined): string[] | undefined {
  if (v === undefined) return undefined
  return (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s.length > 0)
}

function bool (v: boolean | string | undefined): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v
  if (/^(1|true|yes|on)$/i.test(v)) return true
  if (/^(0|false|no|off)$/i.test(v)) return false
  throw new ConfigError(`"${v}" is not a yes/no value; use true or false.`)
}

function positive (v: number | string | undefined, what: string): number | undefined {
  const n = int(v, what)
  if (n === 0) throw new ConfigError(`${what} must be at least 1, got "${v}".`)
  return n
}

function int (v: number | string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined
  const n = typeof v === 'number' ? v : Number(v)
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${what} must be a non-negative integer, got "${v}".`)
  return n
}

/** Amounts accept plain integers and binary size suffixes (10GiB), never fractions. */
export function amount (v: number | string | undefined, what: string): bigint | undefined {
  if (v === undefined) return undefined
  const s = String(v).trim()
  const m = /^(\d+)\s*(KiB|MiB|GiB|TiB|K|M|G|T)?$/i.exec(s)
  if (m === null) throw new ConfigError(`${what} must be a whole number (optionally with KiB/MiB/GiB/TiB), got "${v}".`)
  const unit = (m[2] ?? '').toUpperCase().replace('IB', '')
  const shift = { '': 0n, K: 10n, M: 20n, G: 30n, T: 40n }[unit] ?? 0n
  return BigInt(m[1] as string) << shift
}

function nice (v: number | string | undefined): number {
  const n = int(v, 'nice') ?? 0
  if (n > MAX_NICE) throw new ConfigError(`nice must be from 0 (normal priority) to ${MAX_NICE} (the lowest), got "${v}".`)
  return n
}
