import { expect } from 'chai'
import { createHash, randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { once } from 'node:events'
import { Uint8ArrayList } from 'uint8arraylist'
import { coalesceStats, coalesceTcpWrites } from '../../../node/p2p/tcp-writes.ts'
import { burstPieces } from '../../../node/p2p/fragments/client.ts'
import { Cleanup, socketPair, startNode, waitFor } from './helpers/nodes.ts'

const KiB = 1024
const MiB = 1024 * KiB

/** What libp2p's TCP connection looks like to the patch: a socket and a sendData. */
function fakeConnection (socket: Socket): { socket: Socket, sendData: (d: Uint8ArrayList) => { sentBytes: number, canSendMore: boolean }, writes: number } {
  const conn = {
    socket,
    writes: 0,
    sendData (data: Uint8ArrayList) {
      let sentBytes = 0
      for (const buf of data) { conn.writes++; sentBytes += buf.byteLength; socket.write(buf) }
      return { sentBytes, canSendMore: true }
    }
  }
  return conn
}

describe('p2p: TCP writes gathered per turn of the event loop', function () {
  this.timeout(60_000)
  const cleanup = new Cleanup()
  afterEach(async () => { await cleanup.run() })

  it('corks the socket for the rest of the tick, then sends everything the tick wrote at once', async () => {
    const { client, server } = await socketPair(cleanup)
    const conn = fakeConnection(client)
    expect(coalesceTcpWrites(conn)).to.equal(true)
    const parts = [randomBytes(100 * KiB), randomBytes(3 * KiB), randomBytes(200 * KiB)]
    const received: Buffer[] = []
    server.on('data', (b: Buffer) => received.push(b))
    const r1 = conn.sendData(new Uint8ArrayList(parts[0] as Buffer))
    const r2 = conn.sendData(new Uint8ArrayList(parts[1] as Buffer, parts[2] as Buffer))
    expect(r1).to.deep.equal({ sentBytes: 100 * KiB, canSendMore: true })
    expect(r2).to.deep.equal({ sentBytes: 203 * KiB, canSendMore: true })
    // Nothing left the process yet: the whole tick's writes wait in the corked socket.
    expect(client.writableCorked).to.equal(1)
    expect(client.writableLength).to.equal(303 * KiB)
    await new Promise((resolve) => process.nextTick(resolve))
    expect(client.writableCorked).to.equal(0)
    client.end()
    await once(server, 'end')
    expect(Buffer.concat(received).equals(Buffer.concat(parts))).to.equal(true)
  })

  it('asks its writers to wait once a limit waits in the socket, and drains to the last byte', async () => {
    const { client, server } = await socketPair(cleanup)
    server.pause() // the reader takes nothing: the kernel buffers fill, then the socket's own
    const conn = fakeConnection(client)
    coalesceTcpWrites(conn, 256 * KiB)
    const data = randomBytes(64 * MiB)
    let off = 0
    let waits = 0
    const h = createHash('sha256')
    server.on('data', (b: Buffer) => h.update(b))
    while (off < data.length) {
      const { canSendMore } = conn.sendData(new Uint8ArrayList(data.subarray(off, off + 64 * KiB)))
      off += 64 * KiB
      if (!canSendMore) {
        waits++
        // Never more than the limit and one write waits before the writer is told to stop.
        expect(client.writableLength).to.be.at.most(256 * KiB + 64 * KiB)
        if (waits === 1) server.resume()
        await once(client, 'drain')
      } else if (off % MiB === 0) {
        await new Promise((resolve) => setImmediate(resolve)) // a new turn: the cork is lifted
      }
    }
    client.end()
    await once(server, 'end')
    expect(waits).to.be.greaterThan(0)
    expect(h.digest('hex')).to.equal(createHash('sha256').update(data).digest('hex'))
  })

  it('leaves alone what is not a TCP connection (a relayed one, or another library shape)', () => {
    const skipped = coalesceStats.skipped
    expect(coalesceTcpWrites({ sendData: () => ({ sentBytes: 0, canSendMore: true }) })).to.equal(false)
    expect(coalesceTcpWrites(undefined)).to.equal(false)
    expect(coalesceStats.skipped - skipped).to.equal(2)
  })

  it('is installed on both ends of every direct libp2p connection', async () => {
    const installed = coalesceStats.installed
    const a = await startNode(cleanup)
    const b = await startNode(cleanup)
    await a.connect(b.multiaddrs()[0] as string)
    // The dialer is done when connect() returns; the listener finishes its handshake just after.
    await waitFor(() => coalesceStats.installed - installed >= 2, 10_000, 'both ends patched')
    expect(coalesceStats.installed - installed).to.equal(2)
  })
})

describe('p2p: fragment bytes sent in bursts', () => {
  async function * source (sizes: number[], pulled: number[]): AsyncGenerator<Uint8Array> {
    for (const n of sizes) { pulled.push(n); yield new Uint8Array(n).fill(pulled.length) }
  }

  it('holds the source\'s chunks until a batch is there, then hands them on in bounded pieces', async () => {
    const pulled: number[] = []
    const it = burstPieces(source([256 * KiB, 256 * KiB, 256 * KiB, 256 * KiB, 100 * KiB], pulled), MiB, 200 * KiB)[Symbol.asyncIterator]()
    const first = await it.next()
    // Four 256 KiB chunks were gathered before the first piece came out.
    expect(pulled).to.have.length(4)
    expect(first.value?.byteLength).to.equal(200 * KiB)
    const rest: Uint8Array[] = []
    for (let r = await it.next(); r.done !== true; r = await it.next()) rest.push(r.value)
    const sizes = [first.value as Uint8Array, ...rest].map((p) => p.byteLength)
    expect(sizes.every((n) => n <= 200 * KiB)).to.equal(true)
    expect(sizes.reduce((a, b) => a + b, 0)).to.equal(4 * 256 * KiB + 100 * KiB)
    // The short tail after the last full batch is not lost.
    expect(rest.at(-1)?.[0]).to.equal(5)
  })

  it('an empty source gives nothing; a short one is handed on at its end', async () => {
    const none: Uint8Array[] = []
    for await (const p of burstPieces([], MiB)) none.push(p)
    expect(none).to.have.length(0)
    const short: Uint8Array[] = []
    for await (const p of burstPieces([new Uint8Array(10), new Uint8Array(20)], MiB)) short.push(p)
    expect(short.map((p) => p.byteLength)).to.deep.equal([10, 20])
  })
})
