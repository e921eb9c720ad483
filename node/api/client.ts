/**
 * Talks to a running node's API: used by the CLI, the tests and scripts.
 * Where to find the node: --api URL / BITDUST_API (with BITDUST_API_TOKEN), else <datadir>/api.json.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { API_FILE } from '../config/constants.ts'
import { ApiError, NodeUnreachableError } from './errors.ts'
import type { JobView } from './jobs.ts'
import { toJson } from './server.ts'

export interface ApiEndpoint { url: string, token: string }

export function findEndpoint (opts: { api?: string, token?: string, datadir: string, env?: NodeJS.ProcessEnv }): ApiEndpoint {
  const env = opts.env ?? process.env
  const url = opts.api ?? env.BITDUST_API
  const file = join(opts.datadir, API_FILE)
  const saved = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as ApiEndpoint : undefined
  if (url !== undefined) return { url, token: opts.token ?? env.BITDUST_API_TOKEN ?? saved?.token ?? '' }
  if (saved === undefined) throw new NodeUnreachableError(`${file} (no node has run with this data directory)`)
  return saved
}

export class ApiClient {
  readonly url: string
  private readonly token: string
  constructor (endpoint: ApiEndpoint) {
    this.url = endpoint.url.replace(/\/$/, '')
    this.token = endpoint.token
  }

  async call<T = unknown> (method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.fetch(method, path, body, signal)
    const text = await res.text()
    const json: unknown = text.length > 0 ? JSON.parse(text) : null
    if (!res.ok) {
      const err = (json as { error?: { name: string, message: string } } | null)?.error
      throw new ApiError(err?.name ?? 'ApiError', err?.message ?? `HTTP ${res.status}`, res.status)
    }
    return json as T
  }

  /** A raw response, for streamed bodies (downloads). Errors are still turned into ApiError. */
  async stream (method: string, path: string, signal?: AbortSignal): Promise<Response> {
    const res = await this.fetch(method, path, undefined, signal)
    if (!res.ok) {
      const json = await res.json().catch(() => null) as { error?: { name: string, message: string } } | null
      throw new ApiError(json?.error?.name ?? 'ApiError', json?.error?.message ?? `HTTP ${res.status}`, res.status)
    }
    return res
  }

  /** Follows a job until it ends, calling onUpdate with each view; throws the job's error. */
  async follow (jobId: string, onUpdate?: (job: JobView) => void, signal?: AbortSignal): Promise<JobView> {
    const res = await this.stream('GET', `/jobs/${jobId}/events`, signal)
    const decoder = new TextDecoder()
    let buffered = ''
    let last: JobView | undefined
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true })
      let idx
      while ((idx = buffered.indexOf('\n\n')) >= 0) {
        const line = buffered.slice(0, idx)
        buffered = buffered.slice(idx + 2)
        if (!line.startsWith('data: ')) continue
        last = JSON.parse(line.slice(6)) as JobView
        onUpdate?.(last)
      }
    }
    if (last === undefined) last = await this.call<JobView>('GET', `/jobs/${jobId}`)
    if (last.state !== 'done') {
      throw new ApiError(last.error?.name ?? 'JobFailedError', last.error?.message ?? `job ${last.state}`, 409)
    }
    return last
  }

  private async fetch (method: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(this.url + path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: toJson(body) } : {}),
        ...(signal ? { signal } : {}),
      })
    } catch (err) {
      if (signal?.aborted) throw err
      throw new NodeUnreachableError(this.url, err)
    }
  }
}
