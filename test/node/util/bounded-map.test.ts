import { expect } from 'chai'
import { BoundedMap } from '../../../node/util/bounded-map.ts'

describe('BoundedMap', () => {
  it('forgets the oldest entry past its limit; setting a key again makes it the newest', () => {
    const m = new BoundedMap<string, number>(2)
    m.set('a', 1).set('b', 2).set('a', 3).set('c', 4)
    expect(m.size).to.equal(2)
    expect(m.has('b')).to.equal(false)
    expect(m.get('a')).to.equal(3)
    expect(m.get('c')).to.equal(4)
    expect(() => new BoundedMap(0)).to.throw(RangeError)
  })
})
