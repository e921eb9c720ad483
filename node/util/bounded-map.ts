/**
 * A Map that forgets its oldest entries past a size: for caches of pure results keyed by what
 * peers send us, where an unbounded map would let them fill our memory.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>()
  readonly limit: number

  constructor (limit: number) {
    if (!(limit > 0)) throw new RangeError(`BoundedMap needs a positive limit, not ${limit}`)
    this.limit = limit
  }

  get size (): number { return this.map.size }

  get (key: K): V | undefined { return this.map.get(key) }

  has (key: K): boolean { return this.map.has(key) }

  delete (key: K): boolean { return this.map.delete(key) }

  /** Oldest first. */
  entries (): IterableIterator<[K, V]> { return this.map.entries() }

  set (key: K, value: V): this {
    this.map.delete(key)
    this.map.set(key, value)
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value as K)
    return this
  }
}
