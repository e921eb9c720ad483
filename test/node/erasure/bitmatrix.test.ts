import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { bitmatrixEncoder, packetSize } from '../../../node/erasure/bitmatrix.ts'
import { ronomonCodec } from '../../../node/erasure/ronomon.ts'
import { nativeAddon } from '../../../node/util/native.ts'

interface Ronomon {
  create: (k: number, m: number) => Buffer
  encode: (ctx: Buffer, sources: number, targets: number, buffer: Buffer, bufferOffset: number, bufferSize: number,
    parity: Buffer, parityOffset: number, paritySize: number, cb: (err?: Error) => void) => void
}
const rs = createRequire(import.meta.url)('@ronomon/reed-solomon') as Ronomon

/** The codec's own parity for all k data shards. */
function theirs (context: Buffer, k: number, m: number) {
  return async (data: Buffer, parity: Buffer, shardSize: number): Promise<void> => {
    let targets = 0
    for (let i = k; i < k + m; i++) targets |= 1 << i
    await new Promise<void>((resolve, reject) => {
      rs.encode(context, (1 << k) - 1, targets, data, 0, data.length, parity, 0, parity.length, (err) => { err != null ? reject(err) : resolve() })
    })
  }
}

/**
 * Encodes `stripes` random stripes with `encode` and with the codec; true where every one came out
 * the same. Returns how many times `encode` handed the work to the codec it was given.
 */
async function encodeStripes (context: Buffer, k: number, m: number, shard: number, stripes: number, tamper?: (rows: Buffer) => void): Promise<{ same: boolean[], codecCalls: number }> {
  const reference = theirs(context, k, m)
  const ctx = Buffer.from(context)
  tamper?.(ctx.subarray(3))
  let codecCalls = 0
  const encode = bitmatrixEncoder(ctx, async (d, p, s) => { codecCalls++; await reference(d, p, s) })
  expect(encode).to.not.equal(undefined)
  const same: boolean[] = []
  for (let i = 0; i < stripes; i++) {
    const data = randomBytes(k * shard)
    const want = Buffer.alloc(m * shard)
    await reference(data, want, shard)
    const got = Buffer.alloc(m * shard)
    await encode?.(data, got, shard)
    same.push(got.equals(want))
  }
  return { same, codecCalls }
}

describe('erasure/bitmatrix (fused XOR parity)', function () {
  this.timeout(60_000)
  before(function () { if (nativeAddon?.bitmatrixEncode === undefined) this.skip() })

  it('gives the codec\'s parity byte for byte, for every k and m it supports, on shard sizes that change its packet size', async () => {
    for (let k = 2; k <= 24; k++) {
      for (let m = 1; m <= 6; m++) {
        const context = rs.create(k, m)
        const w = context[0] as number
        // 256 KiB (uploads), one section of 64-byte packets, and a size whose packets are odd.
        for (const shard of [256 * 1024, w * 64, w * 8 * 125]) {
          const data = randomBytes(k * shard)
          const want = Buffer.alloc(m * shard)
          await theirs(context, k, m)(data, want, shard)
          const got = Buffer.alloc(m * shard, 0xa5)
          await nativeAddon?.bitmatrixEncode?.(data, got, shard, k, m, w, packetSize(w, k, shard), context.subarray(3), true)
          expect(got.equals(want), `${k}+${m}, shard ${shard}`).to.equal(true)
        }
      }
    }
  })

  it('checks its first stripe against the codec and, on a difference, leaves every stripe to the codec', async () => {
    const { same, codecCalls } = await encodeStripes(rs.create(6, 3), 6, 3, 4096, 3, (rows) => { rows[7] = (rows[7] as number) ^ 1 })
    expect(same).to.deep.equal([true, true, true])
    // The check, then the codec for each later stripe.
    expect(codecCalls).to.equal(3)
  })

  it('after a good check the codec is not called again for that shard size', async () => {
    const { same, codecCalls } = await encodeStripes(rs.create(10, 4), 10, 4, 256 * 1024, 4)
    expect(same).to.deep.equal([true, true, true, true])
    expect(codecCalls).to.equal(1)
  })

  it('the addon refuses arguments that do not describe its buffers with a RangeError instead of reading past them', () => {
    const encode = nativeAddon?.bitmatrixEncode
    const b = Buffer.alloc(64)
    const rows = Buffer.alloc(2 * 4 * 1 * 4)
    expect(() => encode?.(b, b, 8, 2 ** 31, 1, 4, 2, rows)).to.throw(RangeError, /too large/)
    expect(() => encode?.(b, b, 0, 2, 1, 4, 2, rows)).to.throw(RangeError, /positive/)
    expect(() => encode?.(b, b, 24, 2, 1, 4, 4, rows)).to.throw(RangeError, /multiple of w \* chunk/)
    expect(() => encode?.(b, b, 16, 2, 1, 4, 4, Buffer.alloc(3))).to.throw(RangeError, /rows must have/)
    // 2 data shards of 64 bytes do not fit in 64 bytes.
    expect(() => encode?.(b, b, 64, 2, 1, 4, 16, rows)).to.throw(RangeError, /shorter than its shards/)
  })

  it('is not used for replication (k = 1) or a context it does not know', () => {
    const noop = async (): Promise<void> => {}
    expect(bitmatrixEncoder(rs.create(1, 3), noop)).to.equal(undefined)
    expect(bitmatrixEncoder(Buffer.from([4, 2, 2, 1]), noop)).to.equal(undefined)
    expect(bitmatrixEncoder('not a context', noop)).to.equal(undefined)
  })

  it('through the codec: stripes encoded on the fast path are restored by the codec\'s decoder', async () => {
    const [k, m, shard] = [10, 4, 64 * 1024]
    const codec = ronomonCodec(k, m)
    for (let i = 0; i < 3; i++) {
      const data = randomBytes(k * shard)
      const parity = Buffer.alloc(m * shard)
      await codec.encode(data, parity, shard)
      const d = Buffer.from(data)
      const missing = [0, 3, 7, 9]
      for (const j of missing) d.fill(0, j * shard, (j + 1) * shard)
      await codec.reconstruct(d, parity, shard, [...Array(k + m).keys()].filter((j) => !missing.includes(j)), missing)
      expect(d.equals(data), `stripe ${i}`).to.equal(true)
    }
  })
})
