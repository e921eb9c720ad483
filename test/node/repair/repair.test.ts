import { expect } from 'chai'
import { randomBytes, createHash } from 'node:crypto'
import { readFileSync, writeFileSync, copyFileSync } from 'node:fs'
import type { Address, Hex } from 'viem'
import { RepairNotOursError, repairSlot } from '../../../node/repair/index.ts'
import type { DealShape, RepairComponents } from '../../../node/repair/index.ts'

// A 2+1 XOR code stands in for Reed-Solomon here: the repair logic is what is under test.
const a = randomBytes(512)
const b = randomBytes(512)
const p = Buffer.from(a.map((x, i) => x ^ (b[i] as number)))
const frags = [a, b, p]
const rootOfBytes = (x: Buffer): Hex => `0x${createHash('sha256').update(x).digest('hex')}` as Hex
const roots = frags.map(rootOfBytes)
const dealId = `0x${'cd'.repeat(32)}` as Hex
const addr = (i: number): Address => `0x${(i + 1).toString(16).padStart(40, '0')}` as Address
const self = addr(9)

function components (shape: Partial<DealShape>, over: Partial<RepairComponents> = {}): RepairComponents & { adopted: Array<{ index: number, bytes: Buffer }> } {
  const adopted: Array<{ index: number, bytes: Buffer }> = []
  return {
    adopted,
    self,
    deal: async () => ({ k: 2, m: 1, fragmentSize: 512, roots, holders: [addr(0), undefined, addr(2)], ...shape }),
    fetch: async (_h, slot, _root, dest) => { writeFileSync(dest, frags[slot.index] as Buffer) },
    rebuild: async (got, _shape, missing, dest) => {
      const parts = [...got.values()].map((f) => readFileSync(f))
      expect(got.has(missing)).to.equal(false)
      writeFileSync(dest, Buffer.from((parts[0] as Buffer).map((x, i) => x ^ ((parts[1] as Buffer)[i] as number))))
    },
    rootOf: async (path) => rootOfBytes(readFileSync(path)),
    adopt: async (slot, path) => { adopted.push({ index: slot.index, bytes: readFileSync(path) }); copyFileSync(path, `${path}.kept`) },
    ...over,
  }
}

describe('repair', () => {
  it('rebuilds a freed slot from k other fragments and adopts it', async () => {
    const c = components({})
    await repairSlot({ dealId, index: 1 }, c)
    expect(c.adopted).to.have.length(1)
    expect(c.adopted[0]?.bytes.equals(b)).to.equal(true)
  })

  it('refuses a slot that is not free', async () => {
    const c = components({ holders: [addr(0), addr(1), addr(2)] })
    try { await repairSlot({ dealId, index: 1 }, c); expect.fail('should fail') } catch (err) {
      // Not ours to do: the supplier drops it instead of trying again later.
      expect(err).to.be.instanceOf(RepairNotOursError)
      expect((err as Error).message).to.match(/not free/)
    }
  })

  it('says how many fragments are missing when too few holders remain', async () => {
    const c = components({ holders: [addr(0), undefined, undefined] })
    try { await repairSlot({ dealId, index: 1 }, c); expect.fail('should fail') } catch (err) {
      expect((err as Error).message).to.match(/only 1 of the 2 fragments/)
    }
  })

  it('never adopts a rebuilt fragment whose root does not match', async () => {
    const c = components({}, { fetch: async (_h, slot, _r, dest) => { const x = Buffer.from(frags[slot.index] as Buffer); if (slot.index === 0) x[0] = (x[0] as number) ^ 1; writeFileSync(dest, x) } })
    try { await repairSlot({ dealId, index: 1 }, c); expect.fail('should fail') } catch (err) {
      expect((err as Error).message).to.match(/does not match/)
    }
    expect(c.adopted).to.have.length(0)
  })

  it('leaves the repair to others when it already holds a slot of the deal (one supplier, one fragment)', async () => {
    const c = components({ holders: [self, undefined, addr(2)] })
    try { await repairSlot({ dealId, index: 1 }, c); expect.fail('should fail') } catch (err) {
      expect((err as Error).message).to.match(/already holds slot 0/)
    }
    expect(c.adopted).to.have.length(0)
  })

  it('fails cleanly when holders do not deliver', async () => {
    const c = components({}, { fetch: async () => { throw new Error('peer vanished') } })
    try { await repairSlot({ dealId, index: 1 }, c); expect.fail('should fail') } catch (err) {
      expect((err as Error).message).to.match(/could fetch only 0 of the 2/)
    }
  })
})
