import { expect } from 'chai'
import { BufferPool, consumed, lend, lentStats } from '../../../node/util/lent-buffers.ts'

describe('util/lent-buffers', () => {
  it('gives a buffer back once every byte of it was consumed, in whatever pieces', () => {
    const buf = Buffer.alloc(1000)
    let back = 0
    lend(buf, () => { back++ })
    consumed(buf.subarray(0, 300))
    consumed(buf.subarray(300, 301))
    expect(back).to.equal(0)
    consumed(buf.subarray(301))
    expect(back).to.equal(1)
    // Consumed again after it went back: nothing happens (it is no longer lent).
    consumed(buf)
    expect(back).to.equal(1)
  })

  it('keeps apart loans carved from one ArrayBuffer, and ignores memory that was never lent', () => {
    const memory = new ArrayBuffer(4096)
    const a = new Uint8Array(memory, 0, 1024)
    const b = new Uint8Array(memory, 1024, 1024)
    const backs: string[] = []
    lend(a, () => backs.push('a'))
    lend(b, () => backs.push('b'))
    consumed(b)
    expect(backs).to.deep.equal(['b'])
    consumed(new Uint8Array(memory, 3000, 10)) // outside both loans
    consumed(Buffer.alloc(10)) // another memory altogether
    consumed(a.subarray(0, 512))
    consumed(a.subarray(512))
    expect(backs).to.deep.equal(['b', 'a'])
  })

  it('an empty view is given back at once', () => {
    let back = false
    lend(new Uint8Array(0), () => { back = true })
    expect(back).to.equal(true)
  })

  describe('BufferPool', () => {
    it('reuses a buffer only after it came back, and never hands out one still lent', () => {
      const pool = new BufferPool(64 * 1024, 1024 * 1024, 4)
      const x = pool.lend(100_000)
      const y = pool.lend(100_000)
      expect(x.byteLength).to.equal(100_000)
      expect(x.buffer).to.not.equal(y.buffer)
      const returned = lentStats.returned
      consumed(x)
      expect(lentStats.returned - returned).to.equal(1)
      // Same size class: x's memory comes back; y's is still out.
      const z = pool.lend(70_000)
      expect(z.buffer).to.equal(x.buffer)
      expect(pool.lend(100_000).buffer).to.not.equal(y.buffer)
    })

    it('allocates what is larger than its largest class plainly, without lending it', () => {
      const pool = new BufferPool(64 * 1024, 256 * 1024)
      const lent = lentStats.lent
      const big = pool.lend(300 * 1024)
      expect(big.byteLength).to.equal(300 * 1024)
      expect(lentStats.lent).to.equal(lent)
    })
  })
})
