/**
 * Sealing to a public key, ECIES-style: an ephemeral secp256k1 key, ECDH with the recipient's key,
 * HKDF-SHA256 to an AES-256-GCM key. Used for file keys, manifests, direct messages and group keys.
 *
 * Format v1 (bytes): version(1) = 1 | ephemeral public key, compressed (33) | nonce (12) |
 * ciphertext | GCM tag (16). HKDF: ikm = ECDH x-coordinate, salt = ephemeral || recipient public
 * key (both compressed), info = "bitdust/seal/v1". GCM associated data = version || ephemeral
 * public key || caller's aad, so a box cannot be moved to another context silently.
 */
import { createCipheriv, createDecipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto'
import { SEAL_VERSION } from './constants.ts'
import { InvalidKeyError, MalformedDataError, SealAuthenticationError, UnsupportedVersionError } from './errors.ts'
import { compressPublicKey } from './identity.ts'

const EPHEMERAL = 33
const NONCE = 12
const TAG = 16
/** Bytes a sealed box adds to its plaintext. */
export const SEAL_OVERHEAD = 1 + EPHEMERAL + NONCE + TAG
const INFO = Buffer.from('bitdust/seal/v1')

/** Seals `plaintext` so that only the holder of `recipientPublicKey`'s private key can open it. */
export function seal (recipientPublicKey: Uint8Array | string, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  const recipient = compressPublicKey(recipientPublicKey)
  const eph = createECDH('secp256k1')
  eph.generateKeys()
  const ephPub = eph.getPublicKey(null, 'compressed')
  const shared = eph.computeSecret(Buffer.from(recipient))
  const key = deriveKey(shared, ephPub, recipient)
  const nonce = randomBytes(NONCE)
  const header = Buffer.concat([Buffer.of(SEAL_VERSION), ephPub])
  const cipher = createCipheriv('aes-256-gcm', key, nonce)
  cipher.setAAD(aad != null ? Buffer.concat([header, aad]) : header)
  const body = cipher.update(plaintext)
  cipher.final()
  return new Uint8Array(Buffer.concat([header, nonce, body, cipher.getAuthTag()]))
}

/** Opens a sealed box with the recipient's 32-byte private key. */
export function open (privateKey: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array {
  if (sealed.length < 1) throw new MalformedDataError('sealed box', 'it is empty')
  const version = sealed[0] as number
  if (version !== SEAL_VERSION) throw new UnsupportedVersionError('sealed box', version, SEAL_VERSION)
  if (sealed.length < SEAL_OVERHEAD) throw new MalformedDataError('sealed box', `it is ${sealed.length} bytes, shorter than the ${SEAL_OVERHEAD}-byte minimum`)
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)
  const header = buf.subarray(0, 1 + EPHEMERAL)
  const ephPub = buf.subarray(1, 1 + EPHEMERAL)
  const nonce = buf.subarray(1 + EPHEMERAL, 1 + EPHEMERAL + NONCE)
  const body = buf.subarray(1 + EPHEMERAL + NONCE, buf.length - TAG)
  const tag = buf.subarray(buf.length - TAG)
  const me = createECDH('secp256k1')
  try {
    me.setPrivateKey(Buffer.from(privateKey))
  } catch {
    throw new InvalidKeyError('the private key is not a valid secp256k1 secret')
  }
  let shared: Buffer
  try {
    shared = me.computeSecret(ephPub)
  } catch {
    // An ephemeral key that is not on the curve: the box was altered.
    throw new SealAuthenticationError()
  }
  const key = deriveKey(shared, ephPub, me.getPublicKey(null, 'compressed'))
  const decipher = createDecipheriv('aes-256-gcm', key, nonce)
  decipher.setAAD(aad != null ? Buffer.concat([header, aad]) : header)
  decipher.setAuthTag(tag)
  const out = decipher.update(body)
  try {
    decipher.final()
  } catch {
    out.fill(0)
    throw new SealAuthenticationError()
  }
  return new Uint8Array(out)
}

function deriveKey (shared: Buffer, ephPub: Uint8Array, recipient: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephPub, recipient]), INFO, 32))
}
