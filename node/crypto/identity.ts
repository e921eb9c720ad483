/**
 * One secp256k1 private key is the user's identity: its Ethereum address is the chain account,
 * the same key is the libp2p peer identity, and its public key is what contacts seal to.
 */
import { createECDH, ECDH, randomBytes } from 'node:crypto'
import { computeAddress } from 'ethers'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import type { Secp256k1PrivateKey } from '@libp2p/interface'
import { InvalidKeyError } from './errors.ts'

export const PRIVATE_KEY_LENGTH = 32
export const COMPRESSED_PUBLIC_KEY_LENGTH = 33
export const UNCOMPRESSED_PUBLIC_KEY_LENGTH = 65

export interface Identity {
  /** 32-byte secp256k1 secret. Never log it. */
  readonly privateKey: Uint8Array
  /** 33-byte SEC1 compressed public key (what contacts seal to, and what libp2p uses). */
  readonly publicKey: Uint8Array
  /** 65-byte SEC1 uncompressed public key (0x04 || x || y). */
  readonly publicKeyUncompressed: Uint8Array
  /** EIP-55 checksummed Ethereum address. */
  readonly address: `0x${string}`
  /** `0x`-prefixed hex of the private key (for viem's privateKeyToAccount / ethers Wallet). */
  readonly privateKeyHex: `0x${string}`
}

/** Derives the identity of a 32-byte private key; throws InvalidKeyError outside the curve order. */
export function identityFromPrivateKey (privateKey: Uint8Array | string): Identity {
  const raw = typeof privateKey === 'string' ? hexToBytes(privateKey) : Uint8Array.from(privateKey)
  if (raw.length !== PRIVATE_KEY_LENGTH) throw new InvalidKeyError(`a private key is ${PRIVATE_KEY_LENGTH} bytes, got ${raw.length}`)
  const ecdh = createECDH('secp256k1')
  try {
    ecdh.setPrivateKey(raw)
  } catch {
    throw new InvalidKeyError('the private key is zero or not below the secp256k1 group order')
  }
  const publicKeyUncompressed = new Uint8Array(ecdh.getPublicKey())
  const publicKey = new Uint8Array(ecdh.getPublicKey(null, 'compressed'))
  const privateKeyHex = `0x${Buffer.from(raw).toString('hex')}` as const
  const address = computeAddress(`0x${Buffer.from(publicKeyUncompressed).toString('hex')}`) as `0x${string}`
  return Object.freeze({ privateKey: raw, publicKey, publicKeyUncompressed, address, privateKeyHex })
}

/** A fresh random identity. */
export function generateIdentity (): Identity {
  for (;;) {
    try {
      return identityFromPrivateKey(randomBytes(PRIVATE_KEY_LENGTH))
    } catch (err) {
      // Probability ~2^-128 of drawing an invalid scalar; draw again.
      if ((err as Error).name !== 'InvalidKeyError') throw err
    }
  }
}

/** The libp2p private key for the same secret: `peerIdFromPrivateKey(toLibp2pPrivateKey(id))`. */
export function toLibp2pPrivateKey (identity: Pick<Identity, 'privateKey'>): Secp256k1PrivateKey {
  return privateKeyFromRaw(identity.privateKey) as Secp256k1PrivateKey
}

/** Normalizes a public key given compressed or uncompressed (bytes or hex) to 33-byte compressed. */
export function compressPublicKey (publicKey: Uint8Array | string): Uint8Array {
  return convert(publicKey, 'compressed')
}

/** Ethereum address of a public key (compressed or uncompressed). */
export function addressOfPublicKey (publicKey: Uint8Array | string): `0x${string}` {
  const full = convert(publicKey, 'uncompressed')
  return computeAddress(`0x${Buffer.from(full).toString('hex')}`) as `0x${string}`
}

function convert (publicKey: Uint8Array | string, format: 'compressed' | 'uncompressed'): Uint8Array {
  const raw = typeof publicKey === 'string' ? hexToBytes(publicKey) : publicKey
  if (raw.length !== COMPRESSED_PUBLIC_KEY_LENGTH && raw.length !== UNCOMPRESSED_PUBLIC_KEY_LENGTH) {
    throw new InvalidKeyError(`a public key is 33 or 65 bytes, got ${raw.length}`)
  }
  try {
    // ECDH.convertKey validates that the point is on the curve.
    return new Uint8Array(ECDH.convertKey(Buffer.from(raw), 'secp256k1', undefined, undefined, format) as Buffer)
  } catch {
    throw new InvalidKeyError('the bytes are not a point on secp256k1')
  }
}

export function hexToBytes (hex: string): Uint8Array {
  const h = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) throw new InvalidKeyError('not a hex string')
  return new Uint8Array(Buffer.from(h, 'hex'))
}
