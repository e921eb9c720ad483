import { expect } from 'chai'
import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { windowStats } from '../../../node/p2p/yamux-window.ts'
import { Cleanup, startNode } from './helpers/nodes.ts'
import type { Stream } from '@libp2p/interface'

const PROTOCOL = '/bitdust-test/bulk/1.0.0'
const MiB = 1024 * 1024

/** Reads the whole stream, pausing now and then so that the receive window fills up. */
async function drainSlowly (stream: Stream): Promise<{ bytes: number, sha: string }> {
  const h = createHash('sha256')
  let bytes = 0
  let sinceNap = 0
  for await (const chunk of stream) {
    const buf = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    h.update(buf)
    bytes += buf.byteLength
    sinceNap += buf.byteLength
    if (sinceNap >= 4 * MiB) { sinceNap = 0; await sleep(50) }
  }
  return { bytes, sha: h.digest('hex') }
}

describe('p2p: yamux window updates in half-window steps', function () {
  this.timeout(60_000)
  const cleanup = new Cleanup()
  afterEach(async () => { await cleanup.run() })

  it('a bulk stream to a reader that keeps pausing arrives whole, with most per-frame updates held back', async () => {
    const receiver = await startNode(cleanup)
    const sender = await startNode(cleanup)
    let result: Promise<{ bytes: number, sha: string }> | undefined
    await receiver.libp2p.handle(PROTOCOL, (stream) => { result = drainSlowly(stream) })
    await sender.connect(receiver.multiaddrs()[0] as string)
    const before = { ...windowStats }

    const data = randomBytes(48 * MiB)
    const stream = await sender.libp2p.dialProtocol(receiver.libp2p.peerId, PROTOCOL)
    for (let off = 0; off < data.length; off += 256 * 1024) {
      if (!stream.send(data.subarray(off, off + 256 * 1024))) await stream.onDrain()
    }
    await stream.close()
    for (let i = 0; i < 100 && result === undefined; i++) await sleep(50)
    const got = await result
    expect(got).to.deep.equal({ bytes: data.length, sha: createHash('sha256').update(data).digest('hex') })

    expect(windowStats.installed).to.equal(true)
    const held = windowStats.held - before.held
    const sent = windowStats.sent - before.sent
    // Every data frame used to be answered with an update; now most are held back.
    expect(sent).to.be.greaterThan(0)
    expect(held).to.be.greaterThan(sent)
  })
})
