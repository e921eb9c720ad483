/**
 * Long operations (upload, download, repair) run as jobs: the API answers at once with a job id,
 * and clients follow typed progress events (polling or server-sent events) until it ends.
 */
import { EventEmitter } from 'node:events'
import { randomUUID } from 'node:crypto'

export interface ProgressEvent {
  /** Stage name, e.g. 'encrypt', 'encode', 'deal', 'transfer', 'fill', 'fetch', 'decode'. */
  stage: string
  /** Bytes or steps done and total, when known. */
  done?: number
  total?: number
  message?: string
}

export type JobState = 'running' | 'done' | 'failed' | 'cancelled'

/**
 * What a job's signal carries when a person cancels it, as opposed to the node stopping (which
 * aborts with another reason): an upload the user cancelled is rolled back, not resumed later.
 */
export class JobCancelledError extends Error {
  override name = 'JobCancelledError'
  constructor (message = 'cancelled by the user') { super(message) }
}

export interface JobView {
  id: string
  kind: string
  state: JobState
  progress: ProgressEvent | undefined
  result?: unknown
  error?: { name: string, message: string }
  started: number
  ended?: number
}

export type JobFn = (onProgress: (e: ProgressEvent) => void, signal: AbortSignal) => Promise<unknown>

interface Job extends JobView { controller: AbortController }

const KEEP = 200

/**
 * A job's counts (bytes sent, fragments fetched) are passed on to its followers at most this
 * often; a new stage, a message and the job's end go out at once. An upload reported every 256
 * KiB piece sent: ~1,300 events per GiB, each a view, a JSON line on every event stream and a
 * parse in every client, ~0.2 CPU-s per GiB in the following client alone. A progress bar
 * redraws a few times a second at most. A poll (`get`) always sees the latest progress.
 */
export const PROGRESS_EVERY_MS = 100

export class Jobs extends EventEmitter {
  private readonly jobs = new Map<string, Job>()

  start (kind: string, fn: JobFn): JobView {
    const job: Job = { id: randomUUID(), kind, state: 'running', progress: undefined, started: Date.now(), controller: new AbortController() }
    this.jobs.set(job.id, job)
    this.prune()
    let published = 0
    let later: NodeJS.Timeout | undefined
    const publish = (): void => {
      clearTimeout(later)
      later = undefined
      published = Date.now()
      this.emit(job.id, this.view(job))
    }
    const onProgress = (e: ProgressEvent): void => {
      const before = job.progress
      job.progress = e
      if (job.state !== 'running') return
      const countOnly = e.message === undefined && before !== undefined && before.stage === e.stage
      const wait = published + PROGRESS_EVERY_MS - Date.now()
      if (!countOnly || wait <= 0) publish()
      // The last count of a burst still goes out, one interval after the one before it.
      else later ??= setTimeout(publish, wait)
    }
    fn(onProgress, job.controller.signal).then((result) => {
      job.state = 'done'
      job.result = result
    }, (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err))
      job.state = job.controller.signal.aborted ? 'cancelled' : 'failed'
      job.error = { name: e.name, message: e.message }
    }).finally(() => {
      job.ended = Date.now()
      publish()
    })
    return this.view(job)
  }

  get (id: string): JobView | undefined {
    const job = this.jobs.get(id)
    return job ? this.view(job) : undefined
  }

  list (): JobView[] {
    return [...this.jobs.values()].map((j) => this.view(j))
  }

  cancel (id: string): boolean {
    const job = this.jobs.get(id)
    if (job?.state !== 'running') return false
    job.controller.abort(new JobCancelledError())
    return true
  }

  cancelAll (): void {
    for (const job of this.jobs.values()) if (job.state === 'running') job.controller.abort(new Error('node stopping'))
  }

  /**
   * Every new view of a job until it ends (the first one at once). The listener is registered
   * before the state is read, so an update between two reads is never lost.
   */
  async * watch (id: string, signal?: AbortSignal): AsyncGenerator<JobView> {
    let pending = 0
    let wake: (() => void) | undefined
    const listener = (): void => { pending++; wake?.() }
    this.on(id, listener)
    const onAbort = (): void => wake?.()
    signal?.addEventListener('abort', onAbort)
    try {
      for (;;) {
        pending = 0
        const view = this.get(id)
        if (view === undefined) return
        yield view
        if (view.state !== 'running' || signal?.aborted === true) return
        if (pending === 0) await new Promise<void>((resolve) => { wake = resolve })
        wake = undefined
      }
    } finally {
      this.off(id, listener)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Resolves with the job's final view. */
  async wait (id: string, signal?: AbortSignal): Promise<JobView> {
    let last: JobView | undefined
    for await (const view of this.watch(id, signal)) last = view
    if (last === undefined) throw new Error(`no job ${id}`)
    signal?.throwIfAborted()
    return last
  }

  private view (job: Job): JobView {
    const { controller: _c, ...view } = job
    return { ...view }
  }

  private prune (): void {
    if (this.jobs.size <= KEEP) return
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= KEEP) break
      if (job.state !== 'running') this.jobs.delete(id)
    }
  }
}
