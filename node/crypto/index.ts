/** The crypto layer: identity and keystore, sealing to a public key, streaming file encryption. */
export * from './errors.ts'
export * from './identity.ts'
export * from './keystore.ts'
export * from './seal.ts'
export * from './file-cipher.ts'
