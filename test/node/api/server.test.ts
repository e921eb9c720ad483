import { expect } from 'chai'
import { setTimeout as sleep } from 'node:timers/promises'
import { ApiClient } from '../../../node/api/client.ts'
import { Jobs } from '../../../node/api/jobs.ts'
import type { ProgressEvent } from '../../../node/api/jobs.ts'
import { EventStream, StreamBody, startApiServer } from '../../../node/api/server.ts'
import type { ApiServer } from '../../../node/api/server.ts'

class WidgetNotFoundError extends Error { override name = 'WidgetNotFoundError' }
class DealRevertedError extends Error { override name = 'DealRevertedError' }

describe('api server', () => {
  let server: ApiServer
  let jobs: Jobs
  const token = 'secret-token-123'

  before(async () => {
    jobs = new Jobs()
    server = await startApiServer({
      host: '127.0.0.1',
      port: 0,
      token,
      routes: [
        { method: 'GET', path: '/hello/:name', handler: async (r) => ({ hi: r.params.name, big: 2n ** 70n }) },
        { method: 'POST', path: '/echo', handler: async (r) => r.body },
        { method: 'GET', path: '/missing', handler: async () => { throw new WidgetNotFoundError('no widget 7') } },
        { method: 'GET', path: '/revert', handler: async () => { throw new DealRevertedError('the market refused: slot taken') } },
        { method: 'GET', path: '/bytes', handler: async () => new StreamBody((async function * () { yield new Uint8Array([1, 2]); yield new Uint8Array([3]) })()) },
        {
          method: 'POST',
          path: '/jobs',
          handler: async (r) => jobs.start('test', async (onProgress: (e: ProgressEvent) => void) => {
            for (let i = 1; i <= 3; i++) { await sleep(5); onProgress({ stage: 'work', done: i, total: 3 }) }
            if ((r.body as { fail?: boolean } | null)?.fail === true) throw new DealRevertedError('deliberate')
            return { ok: true }
          }),
        },
        {
          method: 'GET',
          path: '/jobs/:id/events',
          handler: async (r) => new EventStream(jobs.watch(r.params.id as string, r.signal)),
        },
      ],
    })
  })
  after(async () => { await server.stop() })

  it('listens on loopback on an ephemeral port', () => {
    expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(server.url).to.not.match(/:0$/)
  })

  it('refuses requests without the right token', async () => {
    const res = await fetch(`${server.url}/hello/x`)
    expect(res.status).to.equal(401)
    const bad = new ApiClient({ url: server.url, token: 'secret-token-12X' })
    try {
      await bad.call('GET', '/hello/x')
      expect.fail('should refuse')
    } catch (err) {
      expect((err as Error).name).to.equal('UnauthorizedError')
    }
  })

  it('answers JSON with bigints as decimal strings and route parameters decoded', async () => {
    const c = new ApiClient({ url: server.url, token })
    expect(await c.call('GET', '/hello/%C3%A9t%C3%A9')).to.deep.equal({ hi: 'été', big: '1180591620717411303424' })
    expect(await c.call('POST', '/echo', { a: [1, 2] })).to.deep.equal({ a: [1, 2] })
  })

  it('carries error names and messages to the client with fitting statuses', async () => {
    const c = new ApiClient({ url: server.url, token })
    for (const [path, name, status] of [['/missing', 'WidgetNotFoundError', 404], ['/revert', 'DealRevertedError', 409], ['/nowhere', 'NotFoundError', 404]] as const) {
      try {
        await c.call('GET', path)
        expect.fail('should fail')
      } catch (err) {
        expect((err as Error).name).to.equal(name)
        expect((err as { status: number }).status).to.equal(status)
      }
    }
  })

  it('rejects a malformed JSON body', async () => {
    const res = await fetch(`${server.url}/echo`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{x' })
    expect(res.status).to.equal(400)
    expect(((await res.json()) as { error: { name: string } }).error.name).to.equal('BadRequestError')
  })

  it('streams bytes', async () => {
    const c = new ApiClient({ url: server.url, token })
    const res = await c.stream('GET', '/bytes')
    expect([...new Uint8Array(await res.arrayBuffer())]).to.deep.equal([1, 2, 3])
  })

  it('follows a job through its progress to the result, and surfaces a failed job as an error', async () => {
    const c = new ApiClient({ url: server.url, token })
    const started = await c.call<{ id: string }>('POST', '/jobs', {})
    const seen: number[] = []
    const done = await c.follow(started.id, (j) => { if (j.progress?.done !== undefined) seen.push(j.progress.done) })
    expect(done.state).to.equal('done')
    expect(done.result).to.deep.equal({ ok: true })
    expect(seen.at(-1)).to.equal(3)
    const failing = await c.call<{ id: string }>('POST', '/jobs', { fail: true })
    try {
      await c.follow(failing.id)
      expect.fail('should fail')
    } catch (err) {
      expect((err as Error).name).to.equal('DealRevertedError')
      expect((err as Error).message).to.equal('deliberate')
    }
  })

  it('reports an unreachable node with advice', async () => {
    const c = new ApiClient({ url: 'http://127.0.0.1:1', token })
    try {
      await c.call('GET', '/status')
      expect.fail('should fail')
    } catch (err) {
      expect((err as Error).name).to.equal('NodeUnreachableError')
      expect((err as Error).message).to.match(/bitdust start/)
    }
  })
})
