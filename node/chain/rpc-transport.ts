/**
 * JSON-RPC over HTTP(S) with node's own client and keep-alive sockets, as a viem transport.
 *
 * Why not viem's `http` transport: it goes through `fetch` (undici: WHATWG streams, a wasm HTTP
 * parser, Headers and AbortSignal objects, a Promise chain per body chunk) for every call, and a
 * node polls its endpoint several times a second. Profiled on the devnet, the calls of an idle
 * supplier were most of its CPU, and during a 1 MiB upload they were ~14 % of each supplier's
 * main thread, most of it in fetch. node:http parses in C++ and keeps the socket open.
 *
 * The errors are viem's own (RpcRequestError, HttpRequestError, TimeoutError), so that viem maps
 * JSON-RPC error codes as it does for its http transport and node/chain/revert.ts still tells a
 * revert from an endpoint that is down.
 */
import http from 'node:http'
import https from 'node:https'
import { custom, HttpRequestError, RpcRequestError, TimeoutError } from 'viem'
import type { CustomTransport } from 'viem'
import { shownUrl } from './errors.ts'

/** The most a response may hold (a wide eth_getLogs for an audit is the largest). */
export const MAX_RESPONSE_BYTES = 256 * 1024 * 1024

export interface RpcTransportInit {
  timeoutMs: number
  /** Sockets kept per endpoint; calls beyond it wait for a free one. */
  maxSockets?: number
  /** Default MAX_RESPONSE_BYTES. */
  maxResponseBytes?: number
}

interface RpcResponse { jsonrpc?: string, id?: number, result?: unknown, error?: { code: number, message: string, data?: unknown } }

/** A JSON-RPC client for one endpoint URL (credentials in the URL become Basic auth). */
export function rpcClient (rpcUrl: string, init: RpcTransportInit): { call: (method: string, params: unknown) => Promise<unknown> } {
  const url = new URL(rpcUrl)
  const secure = url.protocol === 'https:'
  if (!secure && url.protocol !== 'http:') throw new Error(`The RPC URL ${shownUrl(rpcUrl)} is not http(s); set an http:// or https:// endpoint.`)
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: init.maxSockets ?? 16 })
    : new http.Agent({ keepAlive: true, maxSockets: init.maxSockets ?? 16 })
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (url.username !== '' || url.password !== '') {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
  }
  // What viem's errors show: the URL without its credentials.
  const shown = shownUrl(rpcUrl)
  const send = secure ? https.request : http.request
  const maxBytes = init.maxResponseBytes ?? MAX_RESPONSE_BYTES
  let nextId = 0

  interface Reply { status: number, statusText: string, headers: http.IncomingHttpHeaders, text: string }

  /** One POST of a call, read to its end. */
  const post = async (payload: string, body: Record<string, unknown>): Promise<Reply> => await new Promise<Reply>((resolve, reject) => {
    const req = send({
      agent,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers: { ...headers, 'content-length': Buffer.byteLength(payload) },
    }, (r) => {
      const parts: Buffer[] = []
      let size = 0
      let tooLarge = false
      r.on('data', (b: Buffer) => {
        if (tooLarge) return
        size += b.length
        if (size > maxBytes) {
          tooLarge = true
          reject(new Error(`the response is larger than ${maxBytes} bytes`))
          r.destroy()
          return
        }
        parts.push(b)
      })
      r.on('error', (err) => { if (!tooLarge) reject(err) })
      r.on('end', () => {
        if (tooLarge) return
        resolve({ status: r.statusCode ?? 0, statusText: r.statusMessage ?? '', headers: r.headers, text: Buffer.concat(parts, size).toString('utf8') })
      })
    })
    req.setTimeout(init.timeoutMs, () => { req.destroy(new TimeoutError({ body, url: shown })) })
    req.on('error', (err: Error & { code?: string }) => {
      // The endpoint may close an idle kept-alive socket just as a call goes out on it; that call
      // never reached it, so it is sent once more on a fresh socket (node's documented pattern).
      if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) { post(payload, body).then(resolve, reject); return }
      reject(err)
    })
    req.end(payload)
  })

  const call = async (method: string, params: unknown): Promise<unknown> => {
    const id = ++nextId
    const body = { jsonrpc: '2.0', id, method, params }
    // viem hands over params already in their JSON-RPC form (quantities as hex strings).
    const payload = JSON.stringify(body)
    const res = await post(payload, body).catch((err: unknown) => {
      if (err instanceof TimeoutError) throw err
      throw new HttpRequestError({ body, cause: err as Error, details: (err as Error).message, url: shown })
    })
    let parsed: RpcResponse | null | undefined
    try { parsed = JSON.parse(res.text) as RpcResponse | null } catch { parsed = undefined }
    // A JSON-RPC error counts whatever the status (some endpoints answer 400/500 with one).
    if (parsed?.error !== undefined) throw new RpcRequestError({ body, error: parsed.error, url: shown })
    if (res.status < 200 || res.status >= 300 || typeof parsed !== 'object' || parsed === null) {
      const h = new Headers()
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v)
      throw new HttpRequestError({ body, details: res.text.slice(0, 500) || res.statusText, headers: h, status: res.status, url: shown })
    }
    return parsed.result
  }
  return { call }
}

/** The viem transport over rpcClient; viem's own retries are off (tx.ts retries whole steps). */
export function rpcTransport (rpcUrl: string, init: RpcTransportInit): CustomTransport {
  const client = rpcClient(rpcUrl, init)
  return custom({ request: async ({ method, params }: { method: string, params?: unknown }) => await client.call(method, params ?? []) }, { key: 'bitdust-http', name: 'BitDust JSON-RPC', retryCount: 0 })
}
