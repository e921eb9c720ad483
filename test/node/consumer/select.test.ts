import { expect } from 'chai'
import type { Address } from 'viem'
import { selectSuppliers } from '../../../node/consumer/select.ts'
import type { SupplierOffer } from '../../../node/consumer/types.ts'

const offer = (i: number, over: Partial<SupplierOffer> = {}): SupplierOffer => ({
  peerId: `peer-${i}`,
  address: `0x${i.toString(16).padStart(40, '0')}` as Address,
  capacity: 10n ** 9n,
  price: 1n,
  stake: 10n ** 20n,
  ...over,
})

const needs = { count: 3, fragmentSize: 1000n, maxPrice: 5n, collateral: 10n ** 18n }

describe('consumer/select', () => {
  it('picks distinct suppliers, cheapest first', () => {
    const offers = [offer(1, { price: 5n }), offer(2, { price: 1n }), offer(3, { price: 2n }), offer(4, { price: 3n })]
    const chosen = selectSuppliers(offers, needs)
    expect(chosen.map((o) => o.peerId)).to.deep.equal(['peer-2', 'peer-3', 'peer-4'])
  })

  it('never puts two fragments on one address, even under two peer ids', () => {
    const dup = offer(1)
    const offers = [dup, { ...dup, peerId: 'peer-1b' }, offer(2), offer(3)]
    const chosen = selectSuppliers(offers, needs)
    expect(new Set(chosen.map((o) => o.address)).size).to.equal(3)
  })

  it('skips suppliers without room, too expensive, under-staked or excluded', () => {
    const offers = [
      offer(1, { capacity: 999n }), offer(2, { price: 6n }), offer(3, { stake: 1n }),
      offer(4), offer(5), offer(6), offer(7),
    ]
    const chosen = selectSuppliers(offers, { ...needs, exclude: new Set(['peer-4']) })
    expect(chosen.map((o) => o.peerId).sort()).to.deep.equal(['peer-5', 'peer-6', 'peer-7'])
  })

  it('says how many suppliers are missing and what to do', () => {
    try {
      selectSuppliers([offer(1), offer(2)], needs)
      expect.fail('should throw')
    } catch (err) {
      expect((err as Error).name).to.equal('NotEnoughSuppliersError')
      expect((err as Error).message).to.match(/needs 3 different suppliers but only 2/)
      expect((err as Error).message).to.match(/lower k\+m/)
    }
    expect(() => selectSuppliers([], needs)).to.throw(/no supplier offers have been seen yet/)
  })
})
