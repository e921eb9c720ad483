/**
 * A BitDust node: one identity, one database, one API, and the services the configuration asks
 * for (consumer always; supplier, relay when enabled). Started and stopped as a whole.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { Level } from 'level'
import { API_FILE, DB_DIR } from './config/constants.ts'
import type { NodeConfig } from './config/types.ts'
import type { Identity } from './crypto/identity.ts'
import { Jobs } from './api/jobs.ts'
import { EventStream, startApiServer } from './api/server.ts'
import type { ApiServer, Route } from './api/server.ts'
import { NotFoundError } from './api/errors.ts'
import { log } from './log.ts'

const logger = log('node')

export type Db = Level<string, string>

export interface NodeServices {
  config: NodeConfig
  identity: Identity
  db: Db
  jobs: Jobs
}

/** A service the node starts with it: it adds API routes and a status section. */
export interface NodeService {
  name: string
  routes?: Route[]
  status?: () => Promise<Record<string, unknown>>
  start?: () => Promise<void>
  stop?: () => Promise<void>
}

export interface BitDustNode extends NodeServices {
  api: ApiServer
  stop: () => Promise<void>
}

export interface StartNodeInit {
  config: NodeConfig
  identity: Identity
  /** Builds the node's services once the shared parts (db, jobs) exist. */
  services?: (shared: NodeServices) => Promise<NodeService[]>
}

export async function startNode (init: StartNodeInit): Promise<BitDustNode> {
  const { config, identity } = init
  mkdirSync(config.datadir, { recursive: true, mode: 0o700 })
  const db = await openDb(config.datadir)
  const jobs = new Jobs()
  const shared: NodeServices = { config, identity, db, jobs }
  const services: NodeService[] = []
  let api: ApiServer | undefined
  try {
    services.push(...(await init.services?.(shared) ?? []))
    for (const s of services) await s.start?.()
    const token = randomBytes(24).toString('base64url')
    api = await startApiServer({
      host: config.api.host,
      port: config.api.port,
      token,
      routes: [...baseRoutes(shared, services), ...services.flatMap((s) => s.routes ?? [])],
    })
    writeApiFile(config.datadir, api.url, token)
    logger('API at %s', api.url)
  } catch (err) {
    await api?.stop()
    for (const s of [...services].reverse()) await s.stop?.().catch(() => {})
    await db.close()
    throw err
  }
  const server = api
  let stopped = false
  return {
    ...shared,
    api: server,
    stop: async () => {
      if (stopped) return
      stopped = true
      rmSync(join(config.datadir, API_FILE), { force: true })
      jobs.cancelAll()
      await server.stop()
      for (const s of [...services].reverse()) {
        await s.stop?.().catch((err: unknown) => { logger('stopping %s: %s', s.name, (err as Error).message) })
      }
      await db.close()
    },
  }
}

/** How long a node waits for the database lock of a process that is still dying. */
const LOCK_WAIT_MS = 15_000

export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError'
  constructor (datadir: string) {
    super(`Another BitDust node is running on ${datadir} (its database is locked). Stop it (\`bitdust status\` shows its API), or give this one its own --datadir.`)
  }
}

/**
 * Opens the node's database. A node restarted right after a crash (kill -9, a supervisor's
 * restart) can find the lock still held while the kernel tears the old process down, so a held
 * lock is retried for a while before it is reported as a second node on the same directory.
 */
export async function openDb (datadir: string, waitMs = LOCK_WAIT_MS): Promise<Db> {
  const deadline = Date.now() + waitMs
  for (;;) {
    const db: Db = new Level<string, string>(join(datadir, DB_DIR))
    try {
      await db.open()
      return db
    } catch (err) {
      const locked = (err as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED'
      if (!locked) throw err
      if (Date.now() >= deadline) throw new DataDirInUseError(datadir)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
}

/** api.json is the CLI's way to the node: written atomically, readable by the user only. */
function writeApiFile (datadir: string, url: string, token: string): void {
  const path = join(datadir, API_FILE)
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify({ url, token, pid: process.pid }), { mode: 0o600 })
  renameSync(tmp, path)
}

function baseRoutes (shared: NodeServices, services: NodeService[]): Route[] {
  return [
    {
      method: 'GET',
      path: '/status',
      handler: async () => {
        const sections = await Promise.all(services.map(async (s) => [s.name, await s.status?.()] as const))
        return {
          address: shared.identity.address,
          publicKey: Buffer.from(shared.identity.publicKey).toString('hex'),
          network: shared.config.network?.name ?? null,
          ...Object.fromEntries(sections.filter(([, v]) => v !== undefined).flatMap(([, v]) => Object.entries(v as object))),
        }
      },
    },
    { method: 'GET', path: '/jobs', handler: async () => shared.jobs.list() },
    {
      method: 'GET',
      path: '/jobs/:id',
      handler: async (r) => {
        const job = shared.jobs.get(r.params.id as string)
        if (job === undefined) throw new NotFoundError(`No job ${r.params.id as string}.`)
        return job
      },
    },
    {
      method: 'GET',
      path: '/jobs/:id/events',
      handler: async (r) => {
        if (shared.jobs.get(r.params.id as string) === undefined) throw new NotFoundError(`No job ${r.params.id as string}.`)
        return new EventStream(shared.jobs.watch(r.params.id as string, r.signal))
      },
    },
    {
      method: 'DELETE',
      path: '/jobs/:id',
      handler: async (r) => ({ cancelled: shared.jobs.cancel(r.params.id as string) }),
    },
  ]
}
