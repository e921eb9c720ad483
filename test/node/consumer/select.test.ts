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

  it('says why offers were turned down, and the remedy for each reason', () => {
    const offers = [
      offer(1, { price: 9n }), offer(2, { price: 7n }), offer(3, { stake: 1n }),
      offer(4, { capacity: 10n }), offer(5), offer(6), offer(7, { stake: 0n }),
    ]
    const msg = (): string => {
      try { selectSuppliers(offers, { ...needs, count: 5, exclude: new Set(['peer-6']) }) } catch (err) { return (err as Error).message }
      return expect.fail('should throw')
    }
    const m = msg()
    expect(m).to.match(/needs 5 different suppliers but only 1 can take it/)
    expect(m).to.match(/of 7 offers seen, 2 ask more than the 5 per byte-period you offer/)
    expect(m).to.match(/--price 7 would let the cheapest of those in/)
    expect(m).to.match(/1 have too little free stake for the 1000000000000000000 base units of collateral/)
    expect(m).to.match(/A lower price asks less collateral/)
    expect(m).to.match(/1 have less free space than a fragment \(1000 bytes\)/)
    expect(m).to.match(/1 already tried/)
    expect(m).to.match(/1 have no free stake/)
    // Only the remedies that apply: a price shortfall alone does not suggest a lower price.
    expect(() => selectSuppliers([offer(1, { price: 9n })], { ...needs, count: 1 })).to.throw(/^(?!.*lower price).*--price 9/)
    expect(() => selectSuppliers([offer(1, { stake: 0n })], { ...needs, count: 1 })).to.throw(/^(?!.*lower price).*no free stake/)
  })
})
