import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { ronomonCodec } from '../../../node/erasure/ronomon.ts'
import { stripeContentBytes, stripeLayout } from '../../../node/erasure/stripes.ts'

function combos (n: number, r: number): number[][] {
  if (r === 0) return [[]]
  if (n < r) return []
  return [...combos(n - 1, r - 1).map((c) => [...c, n - 1]), ...combos(n - 1, r)]
}

describe('erasure/ronomon codec', () => {
  for (const [k, m] of [[1, 1], [2, 1], [4, 2], [6, 3], [10, 4]] as const) {
    it(`${k}+${m}: restores every pattern of up to ${m} missing shards`, async function () {
      this.timeout(20000)
      const codec = ronomonCodec(k, m)
      const shard = 1024
      const data = randomBytes(k * shard)
      const parity = Buffer.alloc(m * shard)
      await codec.encode(data, parity, shard)
      const original = Buffer.concat([data, parity])
      for (let lost = 1; lost <= m; lost++) {
        for (const missing of combos(k + m, lost)) {
          const d = Buffer.from(data); const p = Buffer.from(parity)
          for (const i of missing) (i < k ? d.subarray(i * shard, (i + 1) * shard) : p.subarray((i - k) * shard, (i - k + 1) * shard)).fill(0xee)
          const present = [...Array(k + m).keys()].filter((i) => !missing.includes(i))
          await codec.reconstruct(d, p, shard, present, missing)
          expect(Buffer.concat([d, p]).equals(original), `missing ${missing.join(',')}`).to.equal(true)
        }
      }
    })
  }

  it('refuses bad parameters and empty buffers instead of crashing', async () => {
    expect(() => ronomonCodec(0, 2)).to.throw().with.property('name', 'InvalidErasureParamsError')
    expect(() => ronomonCodec(25, 2)).to.throw().with.property('name', 'InvalidErasureParamsError')
    expect(() => ronomonCodec(4, 7)).to.throw().with.property('name', 'InvalidErasureParamsError')
    const c = ronomonCodec(4, 2)
    await c.encode(Buffer.alloc(0), Buffer.alloc(0), 0).then(() => expect.fail(), (err) => expect(err).to.have.property('name', 'InvalidErasureParamsError'))
    await c.encode(Buffer.alloc(40), Buffer.alloc(20), 10).then(() => expect.fail(), (err) => expect(err).to.have.property('name', 'InvalidErasureParamsError'))
    await c.encode(Buffer.alloc(32), Buffer.alloc(16), 16).then(() => expect.fail(), (err) => expect(err).to.have.property('name', 'InvalidErasureParamsError'))
  })

  it('reports too few shards with NotEnoughFragmentsError saying how many are missing', async () => {
    const c = ronomonCodec(4, 2)
    try {
      await c.reconstruct(Buffer.alloc(4 * 256), Buffer.alloc(2 * 256), 256, [0, 1, 4], [2, 3])
      expect.fail('reconstructed from 3 of 4')
    } catch (err) {
      expect(err).to.have.property('name', 'NotEnoughFragmentsError')
      expect((err as Error).message).to.match(/1 more missing/)
    }
  })

  it('lays out stripes as whole segments with the real size recorded', () => {
    const l = stripeLayout(10 * 1024 * 1024 + 1, 4, 2)
    expect(l.stripes).to.equal(11)
    expect(l.fragmentSize).to.equal(11 * 256 * 1024)
    expect(stripeContentBytes(l, 10)).to.equal(1)
    expect(() => stripeLayout(100, 4, 2, 1000)).to.throw().with.property('name', 'InvalidErasureParamsError')
  })
})
