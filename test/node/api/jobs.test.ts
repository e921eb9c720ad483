import { expect } from 'chai'
import { setTimeout as sleep } from 'node:timers/promises'
import { Jobs, PROGRESS_EVERY_MS } from '../../../node/api/jobs.ts'
import type { JobView, ProgressEvent } from '../../../node/api/jobs.ts'

/** Starts a job whose body is `fn` and records every view its followers are sent. */
function recorded (fn: (onProgress: (e: ProgressEvent) => void) => Promise<unknown>): { jobs: Jobs, id: string, views: JobView[] } {
  const jobs = new Jobs()
  const views: JobView[] = []
  // The body starts a turn later, once the recorder listens.
  const job = jobs.start('test', async (onProgress) => { await sleep(0); return await fn(onProgress) })
  jobs.on(job.id, (v: JobView) => { views.push(v) })
  return { jobs, id: job.id, views }
}

describe('jobs: progress events', () => {
  it('passes on a burst of counts as a few events, the latest count included, while a poll sees every count', async () => {
    let release!: () => void
    const held = new Promise<void>((resolve) => { release = resolve })
    const polled: number[] = []
    const { jobs, id, views } = recorded(async (onProgress) => {
      for (let i = 1; i <= 1000; i++) {
        onProgress({ stage: 'transfer', done: i, total: 1000 })
        polled.push(jobs.get(id)?.progress?.done ?? -1)
      }
      await held
      return 'ok'
    })
    await sleep(10)
    expect(polled).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i + 1))
    // The first count goes out at once, the rest wait for the interval.
    expect(views.map((v) => v.progress?.done)).to.deep.equal([1])
    await sleep(PROGRESS_EVERY_MS * 2)
    expect(views.map((v) => v.progress?.done)).to.deep.equal([1, 1000])
    release()
    await jobs.wait(id)
    expect(views.at(-1)?.state).to.equal('done')
    expect(views.at(-1)?.progress?.done).to.equal(1000)
    expect(views).to.have.length(3)
  })

  it('passes on a new stage and a message at once, however soon after the last event', async () => {
    const { jobs, id, views } = recorded(async (onProgress) => {
      onProgress({ stage: 'transfer', done: 1, total: 2 })
      onProgress({ stage: 'transfer', done: 2, total: 2 })
      onProgress({ stage: 'transfer', message: 'supplier x failed; trying another' })
      onProgress({ stage: 'deal', message: 'opening the deal' })
      onProgress({ stage: 'fill', done: 0, total: 6 })
    })
    await jobs.wait(id)
    expect(views.map((v) => [v.progress?.stage, v.progress?.done ?? v.progress?.message])).to.deep.equal([
      ['transfer', 1],
      ['transfer', 'supplier x failed; trying another'],
      ['deal', 'opening the deal'],
      ['fill', 0],
      ['fill', 0], // the job's end
    ])
    expect(views.at(-1)?.state).to.equal('done')
  })

  it('sends nothing more once the job has ended, and its end carries the last count', async () => {
    const { jobs, id, views } = recorded(async (onProgress) => {
      onProgress({ stage: 'fetch', done: 1, total: 3 })
      onProgress({ stage: 'fetch', done: 3, total: 3 })
      throw new Error('supplier vanished')
    })
    const end = await jobs.wait(id)
    expect(end.state).to.equal('failed')
    await sleep(PROGRESS_EVERY_MS * 2)
    expect(views.map((v) => [v.state, v.progress?.done])).to.deep.equal([['running', 1], ['failed', 3]])
  })
})
