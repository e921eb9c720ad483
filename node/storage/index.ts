/**
 * The storage layer: the data path (file <-> fragments + Merkle trees), manifests and the
 * supplier's fragment store.
 */
export * from './constants.ts'
export * from './errors.ts'
export * from './encode.ts'
export * from './decode.ts'
export * from './fragment-files.ts'
export * from './memory.ts'
export * from './manifest.ts'
export * from './fragment-store/index.ts'
