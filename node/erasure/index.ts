/** Erasure coding behind the ErasureCodec interface, and striping of a byte stream into fragments. */
export * from './codec.ts'
export * from './constants.ts'
export * from './errors.ts'
export * from './ronomon.ts'
export * from './stripes.ts'
