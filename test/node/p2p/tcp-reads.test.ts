import { expect } from 'chai'
import { createHash, randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { once } from 'node:events'
import { BULK_READ, READ_BLOCK, SMALL_READ, blockReads, readStats } from '../../../node/p2p/tcp-reads.ts'
import { Cleanup, socketPair, startNode, waitFor } from './helpers/nodes.ts'

const KiB = 1024
const MiB = 1024 * KiB

/** Writes `data` in `piece`-sized writes, waiting for 'drain' when the socket asks. */
async function send (client: Socket, data: Buffer, piece: number): Promise<void> {
  for (let o = 0; o < data.length; o += piece) {
    if (!client.write(data.subarray(o, o + piece))) await once(client, 'drain')
  }
}

describe('p2p: TCP reads in blocks', function () {
  this.timeout(60_000)
  const cleanup = new Cleanup()
  afterEach(async () => { await cleanup.run() })

  it('delivers a stream byte for byte, in reads longer than node\'s 64 KiB once the peer streams', async () => {
    const { client, server } = await socketPair(cleanup)
    expect(blockReads({ socket: server })).to.equal(true)
    const data = randomBytes(32 * MiB)
    const chunks: Buffer[] = []
    server.on('data', (b: Buffer) => chunks.push(b))
    const reads = readStats.reads
    await send(client, data, MiB)
    client.end()
    await once(server, 'end')
    expect(Buffer.concat(chunks).equals(data)).to.equal(true)
    expect(readStats.reads - reads).to.equal(chunks.length)
    // The kernel had more than 64 KiB waiting at some reads, and a block took it in one.
    expect(Math.max(...chunks.map((c) => c.length))).to.be.greaterThan(BULK_READ)
    expect(Math.max(...chunks.map((c) => c.length))).to.be.at.most(READ_BLOCK)
  })

  it('copies short reads out, so what a listener keeps does not share memory with later reads', async () => {
    const { client, server } = await socketPair(cleanup)
    blockReads({ socket: server })
    const kept: Buffer[] = []
    const copies: Buffer[] = []
    server.on('data', (b: Buffer) => { kept.push(b); copies.push(Buffer.from(b)) })
    // Small messages one at a time (each its own read), then a bulk stream through the same socket.
    for (let i = 0; i < 20; i++) {
      client.write(Buffer.alloc(100, i))
      await waitFor(() => kept.length === i + 1, 5_000, `message ${i}`)
    }
    const copied = readStats.copied
    await send(client, randomBytes(8 * MiB), 256 * KiB)
    const inBlock = (): number => ((server as unknown as Record<symbol, Buffer>)[Object.getOwnPropertySymbols(server).find((x) => x.description === 'kBuffer') as symbol] as Buffer).buffer.byteLength
    await waitFor(() => kept.reduce((n, b) => n + b.length, 0) === 20 * 100 + 8 * MiB, 10_000, 'the bulk bytes')
    // A tiny message after the stream: the connection goes back to its own small buffer.
    client.write(Buffer.alloc(10, 1))
    await waitFor(() => kept.reduce((n, b) => n + b.length, 0) === 20 * 100 + 8 * MiB + 10, 10_000, 'the last message')
    expect(inBlock()).to.equal(SMALL_READ)
    client.end()
    await once(server, 'end')
    for (let i = 0; i < kept.length; i++) expect(kept[i]?.equals(copies[i] as Buffer), `read ${i} unchanged`).to.equal(true)
    // A kept small message pins a small allocation, never a read block.
    for (const small of kept.slice(0, 20)) expect(small.buffer.byteLength).to.be.below(READ_BLOCK)
    expect(readStats.copied - copied).to.be.greaterThan(0)
    expect(Math.max(...kept.map((c) => c.length))).to.be.greaterThan(SMALL_READ)
  })

  it('stops reading while the socket is paused and resumes where it stopped', async () => {
    const { client, server } = await socketPair(cleanup)
    blockReads({ socket: server })
    const data = randomBytes(16 * MiB)
    const h = createHash('sha256')
    let got = 0
    let pausedAt = -1
    server.on('data', (b: Buffer) => {
      h.update(b)
      got += b.length
      if (pausedAt < 0 && got >= 2 * MiB) { pausedAt = got; server.pause() }
    })
    const sending = send(client, data, MiB)
    await waitFor(() => pausedAt >= 0, 10_000, 'paused')
    // While paused, the reader takes nothing more: the writer fills the kernel's buffers and waits.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(got).to.equal(pausedAt)
    expect(client.writableLength).to.be.greaterThan(0)
    server.resume()
    await sending
    client.end()
    await once(server, 'end')
    expect(got).to.equal(data.length)
    expect(h.digest('hex')).to.equal(createHash('sha256').update(data).digest('hex'))
  })

  it('leaves alone what it cannot switch safely: no TCP socket, bytes already buffered', async () => {
    const skipped = readStats.skipped
    expect(blockReads(undefined)).to.equal(false)
    expect(blockReads({ socket: {} })).to.equal(false)
    const { client, server } = await socketPair(cleanup)
    server.pause()
    client.write(Buffer.alloc(1000, 7))
    await waitFor(() => { server.read(0); return server.readableLength > 0 }, 5_000, 'bytes buffered in the readable')
    expect(blockReads({ socket: server })).to.equal(false)
    expect(readStats.skipped - skipped).to.equal(3)
    // Still node's own reads: the buffered bytes and the later ones arrive in order.
    const later = Buffer.alloc(2000, 8)
    const chunks: Buffer[] = []
    server.on('data', (b: Buffer) => chunks.push(b))
    server.resume()
    client.end(later)
    await once(server, 'end')
    expect(Buffer.concat(chunks).equals(Buffer.concat([Buffer.alloc(1000, 7), later]))).to.equal(true)
  })

  it('is installed on the accepting end of every direct libp2p connection, not on the dialing end', async () => {
    const a = await startNode(cleanup)
    const b = await startNode(cleanup)
    const installed = readStats.installed
    await a.connect(b.multiaddrs()[0] as string)
    await waitFor(() => readStats.installed - installed >= 1, 10_000, 'the accepting end switched')
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(readStats.installed - installed).to.equal(1)
  })
})
