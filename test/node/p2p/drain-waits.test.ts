import { expect } from 'chai'
import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { drainStats } from '../../../node/p2p/drain-waits.ts'
import { Framed } from '../../../node/p2p/wire/framed.ts'
import { Cleanup, startNode } from './helpers/nodes.ts'

const PROTOCOL = '/bitdust-test/slow-sink/1.0.0'
const MiB = 1024 * 1024

describe('p2p: a writer waits for drain every time, not only the first', function () {
  this.timeout(120_000)
  const cleanup = new Cleanup()
  afterEach(async () => { await cleanup.run() })

  it('a fast writer to a slow reader keeps little in its write buffer, and every byte arrives', async () => {
    const receiver = await startNode(cleanup)
    const sender = await startNode(cleanup)
    let result: Promise<{ bytes: number, sha: string }> | undefined
    await receiver.libp2p.handle(PROTOCOL, (stream) => {
      // Framed pauses the stream above 4 MiB unread, so yamux stops granting window: the
      // sender sees backpressure again and again while the reader naps.
      const io = new Framed(stream)
      result = (async () => {
        const h = createHash('sha256')
        let bytes = 0
        try {
          for (;;) {
            if (await io.atEnd()) break
            for await (const chunk of io.readBytes(MiB)) { h.update(chunk); bytes += chunk.byteLength }
            await sleep(10)
          }
        } catch { /* the byte count below tells */ }
        return { bytes, sha: h.digest('hex') }
      })()
    })
    await sender.connect(receiver.multiaddrs()[0] as string)
    const fresh = drainStats.fresh

    const data = randomBytes(64 * MiB)
    const stream = await sender.libp2p.dialProtocol(receiver.libp2p.peerId, PROTOCOL)
    let waits = 0
    let most = 0
    for (let off = 0; off < data.length; off += 256 * 1024) {
      if (!stream.send(data.subarray(off, off + 256 * 1024))) {
        waits++
        await stream.onDrain()
      }
      most = Math.max(most, stream.writeBufferLength)
    }
    await stream.close()
    for (let i = 0; i < 200 && result === undefined; i++) await sleep(50)
    expect(await result).to.deep.equal({ bytes: data.length, sha: createHash('sha256').update(data).digest('hex') })

    expect(drainStats.installed).to.equal(true)
    expect(waits).to.be.greaterThan(1)
    // Each wait after the first needed a fresh promise; the library's settled one returned at once.
    expect(drainStats.fresh - fresh).to.be.greaterThan(1)
    // Without the fix the loop stops waiting after the first drain and queues most of the 64 MiB.
    expect(most).to.be.lessThan(16 * MiB)
  })
})
