/**
 * The optional N-API addon in node/native (OpenSSL from the node binary): batched Merkle hashing,
 * allocation-free ChaCha20-Poly1305, fused-XOR erasure parity and malloc thresholds. Loaded once; every user has a pure-JS fallback, so a
 * machine where it did not build still works, only slower. BITDUST_NO_NATIVE=1 turns it off.
 */
import { createRequire } from 'node:module'
import { log } from '../log.ts'

const debug = log('native')

export interface NativeAddon {
  shaNi?: boolean
  treeLevels: (data: Uint8Array, segments: number, height: number, fromLevel: number, out: Uint8Array, async?: boolean) => Promise<void> | undefined
  /**
   * Encrypts the concatenated parts into out (their length + 16: ciphertext, then the tag).
   * alg: 0 (default) ChaCha20-Poly1305, 1 AES-256-GCM.
   */
  aeadSeal?: (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, parts: Uint8Array[], out: Uint8Array, alg?: number) => void
  /** Decrypts the parts in place; false if the tag does not authenticate them. alg as for aeadSeal. */
  aeadOpen?: (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, parts: Uint8Array[], tag: Uint8Array, alg?: number) => boolean
  /**
   * Parity packets as XORs of the data packets a bit-matrix row selects (node/erasure/bitmatrix.ts).
   * With async = true it runs on the libuv pool and returns a Promise.
   */
  bitmatrixEncode?: (data: Uint8Array, parity: Uint8Array, shardSize: number, k: number, m: number, w: number, chunk: number, rows: Uint8Array, async?: boolean) => Promise<void> | undefined
  /** glibc's mmap and trim thresholds (mallopt); false where that is not possible. */
  tuneMalloc?: (mmapThreshold: number, trimThreshold: number) => boolean
}

function load (): NativeAddon | undefined {
  if (process.env.BITDUST_NO_NATIVE === '1') return undefined
  const require = createRequire(import.meta.url)
  for (const id of ['@bitdust/native', '../native/index.cjs']) {
    try {
      const mod = require(id) as NativeAddon
      if (typeof mod.treeLevels === 'function') return mod
    } catch (err) {
      debug('native addon %s not loadable: %s', id, (err as Error).message)
    }
  }
  return undefined
}

export const nativeAddon: NativeAddon | undefined = load()
