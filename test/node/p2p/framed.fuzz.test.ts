/**
 * The frame decoder (4-byte length prefix + body) under 10,000 random and mutated byte streams
 * from a fixed seed: it only ever yields frames within the limit or throws our typed errors, and
 * it pauses the stream instead of buffering without bound.
 */
import { expect } from 'chai'
import { P2PError } from '../../../node/p2p/errors.ts'
import { Framed } from '../../../node/p2p/wire/framed.ts'
import type { Stream } from '@libp2p/interface'

const SEED = Number(process.env.FUZZ_SEED ?? 0xf4a3ed)
const RUNS = 10_000

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

/** Just enough of a libp2p message stream for the decoder. */
class FakeStream extends EventTarget {
  paused = false
  aborted: Error | undefined
  maxPausedBuffer = 0
  pause (): void { this.paused = true }
  resume (): void { this.paused = false }
  abort (err: Error): void { this.aborted = err }
  send (): boolean { return true }
  async onDrain (): Promise<void> {}
  async close (): Promise<void> {}
  push (data: Uint8Array): void {
    const e = new Event('message') as Event & { data: Uint8Array }
    e.data = data
    this.dispatchEvent(e)
  }

  end (): void { this.dispatchEvent(new Event('remoteCloseWrite')) }
}

describe(`p2p frame decoder under fuzzing (seed ${SEED}, ${RUNS} streams)`, function () {
  this.timeout(300_000)

  it('yields bounded frames or typed errors, never anything else', async () => {
    const rnd = prng(SEED)
    const int = (n: number): number => Math.floor(rnd() * n)
    const MAX = 4096
    let frames = 0
    let errors = 0
    for (let i = 0; i < RUNS; i++) {
      const s = new FakeStream()
      const io = new Framed(s as unknown as Stream, { highWater: 8192, idleTimeoutMs: 1000 })
      // A valid stream of frames, then mutated: flipped bytes, cut short, or pure noise.
      const parts: number[] = []
      for (let k = int(4); k >= 0; k--) {
        const len = int(6000)
        parts.push(len >>> 24, (len >>> 16) & 255, (len >>> 8) & 255, len & 255, ...Array.from({ length: len }, () => int(256)))
      }
      let bytes = new Uint8Array(parts)
      const mode = int(4)
      if (mode === 1) for (let k = 0; k < 3; k++) bytes[int(bytes.length)] = int(256)
      if (mode === 2) bytes = bytes.subarray(0, int(bytes.length + 1))
      if (mode === 3) bytes = new Uint8Array(Array.from({ length: int(64) }, () => int(256)))
      // Delivered in random pieces, like the network does.
      for (let off = 0; off < bytes.length;) {
        const n = 1 + int(3000)
        s.push(bytes.slice(off, off + n))
        off += n
      }
      s.end()
      for (;;) {
        try {
          const f = await io.readFrame(MAX)
          expect(f.length).to.be.at.most(MAX)
          frames++
        } catch (err) {
          if (!(err instanceof P2PError)) throw new Error(`stream #${i}: ${String(err)}`)
          errors++
          break
        }
      }
    }
    expect(frames).to.be.greaterThan(0)
    expect(errors).to.equal(RUNS)
  })

  it('pauses the stream above the high-water mark and resumes once read', async () => {
    const s = new FakeStream()
    const io = new Framed(s as unknown as Stream, { highWater: 1024, idleTimeoutMs: 1000 })
    const body = new Uint8Array(4000)
    const head = new Uint8Array([0, 0, 0x0f, 0xa0])
    s.push(head)
    s.push(body)
    await Promise.resolve()
    expect(s.paused).to.equal(true)
    const f = await io.readFrame(8192)
    expect(f.length).to.equal(4000)
    expect(s.paused).to.equal(false)
  })

  it('refuses a frame over the limit and aborts the stream', async () => {
    const s = new FakeStream()
    const io = new Framed(s as unknown as Stream, { idleTimeoutMs: 1000 })
    s.push(new Uint8Array([0x7f, 0xff, 0xff, 0xff]))
    try {
      await io.readFrame(1024)
      throw new Error('expected MessageTooLargeError')
    } catch (err) {
      expect((err as Error).name).to.equal('MessageTooLargeError')
    }
    expect(s.aborted?.name).to.equal('MessageTooLargeError')
  })

  it('times out a stream that goes quiet', async () => {
    const s = new FakeStream()
    const io = new Framed(s as unknown as Stream, { idleTimeoutMs: 100 })
    s.push(new Uint8Array([0, 0, 0, 10, 1, 2]))
    try {
      await io.readFrame(1024)
      throw new Error('expected PeerTimeoutError')
    } catch (err) {
      expect((err as Error).name).to.equal('PeerTimeoutError')
    }
  })
})
