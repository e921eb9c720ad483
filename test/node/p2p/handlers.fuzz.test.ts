/**
 * Every protocol handler of a live node fed random and mutated requests over real streams: the
 * node answers with typed errors or resets the stream, never crashes, and still works afterwards.
 */
import { expect } from 'chai'
import { PROTOCOL_FRAGMENT_GET, PROTOCOL_FRAGMENT_LIST, PROTOCOL_FRAGMENT_PUT, PROTOCOL_GROUP_HISTORY, PROTOCOL_MESSAGE, PROTOCOL_OFFER } from '../../../node/p2p/constants.ts'
import { Framed } from '../../../node/p2p/wire/framed.ts'
import { ErrorReply } from '../../../node/p2p/wire/messages.ts'
import { decodeOneOf } from '../../../node/p2p/wire/codec.ts'
import { Cleanup, collect, fragment, startNode, tempDir } from './helpers/nodes.ts'
import { DirBackend } from './helpers/dir-backend.ts'
import { SAMPLES } from './helpers/samples.ts'

const SEED = Number(process.env.FUZZ_SEED ?? 0xbadc0de)
const PER_PROTOCOL = 200

function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe(`p2p protocol handlers under fuzzing (seed ${SEED}, ${PER_PROTOCOL} requests per protocol)`, function () {
  this.timeout(300_000)
  const cleanup = new Cleanup()
  after(async () => { await cleanup.run() })

  it('a supplier answers garbage with typed errors and keeps serving', async () => {
    const rnd = prng(SEED)
    const int = (n: number): number => Math.floor(rnd() * n)
    const backend = new DirBackend(await tempDir(cleanup), { quota: 64 * 1024 * 1024 })
    const supplier = await startNode(cleanup, { idleTimeoutMs: 300 }, { fragments: backend })
    await supplier.discovery.publish({ capacity: 1n, price: 1n, stake: 0n })
    const client = await startNode(cleanup)
    await client.connect(supplier.multiaddrs()[0] as string)
    const protocols = [PROTOCOL_FRAGMENT_PUT, PROTOCOL_FRAGMENT_GET, PROTOCOL_FRAGMENT_LIST, PROTOCOL_OFFER, PROTOCOL_MESSAGE, PROTOCOL_GROUP_HISTORY]
    const codes = new Map<string, number>()
    for (const protocol of protocols) {
      for (let i = 0; i < PER_PROTOCOL; i++) {
        const [def, value] = SAMPLES[int(SAMPLES.length)] as [any, any]
        let body: Uint8Array = def.encode(value)
        if (int(2) === 0) { body = new Uint8Array(body); for (let k = 0; k < 3; k++) body[int(body.length)] = int(256) }
        if (int(8) === 0) body = new Uint8Array(Array.from({ length: int(64) }, () => int(256)))
        const io = new Framed(await client.openStream(supplier.peerId, protocol), { idleTimeoutMs: 5000 })
        try {
          if (int(10) === 0) {
            const head = new Uint8Array(4)
            new DataView(head.buffer).setUint32(0, 2 ** 31 + int(1000)) // announces an oversized frame
            await io.write(head)
          } else {
            await io.writeFrame(body)
          }
          const reply = await io.readFrame()
          try {
            const { def: got, value: v } = decodeOneOf(reply, ErrorReply, ...SAMPLES.map(([d]) => d))
            const code = got.type === 'error' ? (v as { code: string }).code : got.type
            codes.set(code, (codes.get(code) ?? 0) + 1)
          } catch (err) {
            throw new Error(`${protocol}: the node answered something undecodable: ${(err as Error).message}`)
          }
        } catch (err) {
          // A reset or a timeout is an acceptable answer to garbage; anything else is a bug.
          const name = (err as Error).name
          if (!['StreamEndedError', 'PeerTimeoutError', 'MessageTooLargeError'].includes(name)) throw err
          codes.set(name, (codes.get(name) ?? 0) + 1)
        } finally {
          io.abort(new Error('done'))
        }
      }
    }
    expect(codes.get('MalformedMessageError') ?? 0).to.be.greaterThan(0)
    // Still serving real requests after all that.
    const { bytes, meta } = fragment(64)
    await client.putFragment(supplier.peerId, meta, [bytes])
    const back = await collect(client.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root }))
    expect(Buffer.from(back).equals(Buffer.from(bytes))).to.equal(true)
    expect(await backend.files()).to.deep.equal([`${meta.dealId}-0`])
  })
})
