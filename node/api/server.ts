/**
 * The node's HTTP API: loopback only, every request carries `Authorization: Bearer <token>`
 * (the token lives in <datadir>/api.json, readable only by the user). JSON in and out, bigints as
 * decimal strings; streams for file bodies; server-sent events for job progress.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { timingSafeEqual } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { log } from '../log.ts'
import { BadRequestError, NotFoundError, UnauthorizedError, statusOf } from './errors.ts'

const logger = log('api')
const MAX_JSON_BODY = 1 << 20

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

export interface ApiRequest {
  params: Record<string, string>
  query: URLSearchParams
  /** Parsed JSON body (POST/PUT with a JSON content type), else undefined. */
  body: unknown
  /** The raw request, for handlers that stream a body in. */
  raw: IncomingMessage
  signal: AbortSignal
}

/** Return this from a handler to stream bytes instead of JSON. */
export class StreamBody {
  readonly source: AsyncIterable<Uint8Array>
  readonly contentType: string
  readonly length: number | undefined
  readonly filename: string | undefined
  constructor (source: AsyncIterable<Uint8Array>, init: { contentType?: string, length?: number, filename?: string } = {}) {
    this.source = source
    this.contentType = init.contentType ?? 'application/octet-stream'
    this.length = init.length
    this.filename = init.filename
  }
}

/** Return this to send server-sent events until the iterator ends or the client leaves. */
export class EventStream {
  readonly events: AsyncIterable<unknown>
  constructor (events: AsyncIterable<unknown>) { this.events = events }
}

export type Handler = (req: ApiRequest) => Promise<unknown>

export interface Route { method: Method, path: string, handler: Handler, public?: boolean }

export interface ApiServerInit { host: string, port: number, token: string, routes: Route[] }

export interface ApiServer { url: string, stop: () => Promise<void> }

export function toJson (value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v)
}

interface Compiled { method: Method, re: RegExp, keys: string[], route: Route }

function compile (route: Route): Compiled {
  const keys: string[] = []
  const pattern = route.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, (_m, k: string) => { keys.push(k); return '([^/]+)' })
  return { method: route.method, re: new RegExp(`^${pattern}$`), keys, route }
}

export async function startApiServer (init: ApiServerInit): Promise<ApiServer> {
  const compiled = init.routes.map(compile)
  const token = Buffer.from(init.token)
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => { logger('unhandled: %s', (err as Error).stack) })
  })

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const controller = new AbortController()
    res.on('close', () => { if (!res.writableFinished) controller.abort(new Error('client went away')) })
    try {
      const match = findRoute(req.method ?? 'GET', url.pathname)
      if (match === undefined) throw new NotFoundError(`No API route ${req.method ?? ''} ${url.pathname}.`)
      const { route, params } = match
      if (route.public !== true && !authorized(req, url)) throw new UnauthorizedError()
      const body = await readJsonBody(req)
      const out = await route.handler({ params, query: url.searchParams, body, raw: req, signal: controller.signal })
      await send(res, 200, out)
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err))
      const status = statusOf(e)
      if (status >= 500) logger('%s %s failed: %s', req.method, url.pathname, e.stack)
      if (res.headersSent) { res.destroy(e); return }
      await send(res, status, { error: { name: e.name, message: e.message } })
    }
  }

  function findRoute (method: string, path: string): { route: Route, params: Record<string, string> } | undefined {
    for (const c of compiled) {
      if (c.method !== method) continue
      const m = c.re.exec(path)
      if (m === null) continue
      const params: Record<string, string> = {}
      c.keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1] as string) })
      return { route: c.route, params }
    }
    return undefined
  }

  function authorized (req: IncomingMessage, url: URL): boolean {
    const header = req.headers.authorization ?? ''
    // EventSource in browsers cannot set headers: accept the token as a query parameter too.
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : (url.searchParams.get('token') ?? ''))
    return given.length === token.length && timingSafeEqual(given, token)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port, init.host, () => { server.off('error', reject); resolve() })
  })
  const addr = server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return {
    url: `http://${host}:${addr.port}`,
    stop: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    },
  }
}

async function readJsonBody (req: IncomingMessage): Promise<unknown> {
  if (req.method === 'GET' || req.method === 'DELETE') return undefined
  if (!(req.headers['content-type'] ?? '').includes('application/json')) return undefined
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_JSON_BODY) throw new BadRequestError(`The request body is larger than ${MAX_JSON_BODY} bytes.`)
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return undefined
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new BadRequestError('The request body is not valid JSON.')
  }
}

async function send (res: ServerResponse, status: number, out: unknown): Promise<void> {
  if (out instanceof StreamBody) {
    res.writeHead(status, {
      'content-type': out.contentType,
      ...(out.length !== undefined ? { 'content-length': String(out.length) } : {}),
      ...(out.filename !== undefined ? { 'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(out.filename)}` } : {}),
    })
    await pipeline(Readable.from(out.source), res)
    return
  }
  if (out instanceof EventStream) {
    res.writeHead(status, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
    for await (const event of out.events) {
      if (res.destroyed) break
      res.write(`data: ${toJson(event)}\n\n`)
    }
    res.end()
    return
  }
  const body = toJson(out ?? null)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}
