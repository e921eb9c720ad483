/**
 * The value kept in `map` for `key`, made by `make` and kept the first time it is asked for: the
 * pure-result caches of the node (parsed peer ids, key objects, selectors) share this one step.
 * Works with a Map, a WeakMap or a BoundedMap.
 */
export function cached<K, V> (map: { get: (key: K) => V | undefined, set: (key: K, value: V) => unknown }, key: K, make: () => V): V {
  let value = map.get(key)
  if (value === undefined) {
    value = make()
    map.set(key, value)
  }
  return value
}
