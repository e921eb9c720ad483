/**
 * The identity at rest: a standard Ethereum V3 keystore (scrypt + AES-128-CTR + keccak MAC), the
 * format geth, ethers, MetaMask and most wallets import. Written with node's native scrypt
 * (OpenSSL), which is several times faster than a JS scrypt at the standard cost.
 */
import { createCipheriv, createDecipheriv, pbkdf2, randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { keccak_256 } from '@noble/hashes/sha3.js'
import type { AbortOptions } from '@libp2p/interface'
import { KEYSTORE_FILE } from '../config/constants.ts'
import { KEYSTORE_SCRYPT } from './constants.ts'
import { InvalidKeystoreError, KeystoreNotFoundError, WrongPassphraseError } from './errors.ts'
import { identityFromPrivateKey, type Identity } from './identity.ts'
import { writeFileAtomically } from '../util/files.ts'

export interface ScryptParams { N: number, r: number, p: number }

export interface KeystoreOptions extends AbortOptions {
  /** scrypt cost; the default is the Ethereum standard. Tests pass e.g. `{ N: 1024, r: 8, p: 1 }`. */
  scrypt?: ScryptParams
}

export interface KeystoreV3 {
  version: 3
  id: string
  address: string
  crypto: {
    cipher: 'aes-128-ctr'
    cipherparams: { iv: string }
    ciphertext: string
    kdf: 'scrypt' | 'pbkdf2'
    kdfparams: Record<string, number | string>
    mac: string
  }
}

export function keystorePath (datadir: string): string {
  return join(datadir, KEYSTORE_FILE)
}

/** Encrypts an identity into keystore JSON text. */
export async function encryptKeystore (identity: Identity, passphrase: string, options: KeystoreOptions = {}): Promise<string> {
  const params = options.scrypt ?? KEYSTORE_SCRYPT
  const salt = randomBytes(32)
  const iv = randomBytes(16)
  const dk = await runScrypt(passphrase, salt, params, options.signal)
  const cipher = createCipheriv('aes-128-ctr', dk.subarray(0, 16), iv)
  const ciphertext = Buffer.concat([cipher.update(identity.privateKey), cipher.final()])
  const json: KeystoreV3 = {
    version: 3,
    id: randomUUID(),
    address: identity.address.slice(2).toLowerCase(),
    crypto: {
      cipher: 'aes-128-ctr',
      cipherparams: { iv: iv.toString('hex') },
      ciphertext: ciphertext.toString('hex'),
      kdf: 'scrypt',
      kdfparams: { dklen: 32, n: params.N, r: params.r, p: params.p, salt: salt.toString('hex') },
      mac: mac(dk, ciphertext).toString('hex'),
    },
  }
  return JSON.stringify(json)
}

/** Decrypts keystore JSON text (scrypt or pbkdf2, as written by any standard wallet). */
export async function decryptKeystore (json: string, passphrase: string, options: AbortOptions & { path?: string } = {}): Promise<Identity> {
  const ks = parseKeystore(json, options.path)
  const c = ks.crypto
  const ciphertext = hex(c.ciphertext, 'ciphertext', options.path)
  const kp = c.kdfparams
  let dk: Buffer
  if (c.kdf === 'scrypt') {
    const N = num(kp.n, 'n', options.path); const r = num(kp.r, 'r', options.path); const p = num(kp.p, 'p', options.path)
    if (N > 2 ** 20 || r > 32 || p > 16 || (N & (N - 1)) !== 0) throw new InvalidKeystoreError('scrypt parameters out of range', options.path)
    dk = await runScrypt(passphrase, hex(String(kp.salt), 'salt', options.path), { N, r, p }, options.signal)
  } else if (c.kdf === 'pbkdf2') {
    if (kp.prf !== 'hmac-sha256') throw new InvalidKeystoreError(`unsupported prf ${String(kp.prf)}`, options.path)
    const iterations = num(kp.c, 'c', options.path)
    if (iterations > 10_000_000) throw new InvalidKeystoreError('pbkdf2 iterations out of range', options.path)
    dk = await new Promise<Buffer>((resolve, reject) => {
      pbkdf2(passphrase.normalize('NFKC'), hex(String(kp.salt), 'salt', options.path), iterations, 32, 'sha256', (err, key) => { err != null ? reject(err) : resolve(key) })
    })
  } else {
    throw new InvalidKeystoreError(`unsupported kdf ${String(c.kdf)}`, options.path)
  }
  const expected = hex(c.mac, 'mac', options.path)
  const actual = mac(dk, ciphertext)
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw new WrongPassphraseError(options.path)
  const decipher = createDecipheriv('aes-128-ctr', dk.subarray(0, 16), hex(c.cipherparams.iv, 'iv', options.path))
  const privateKey = Buffer.concat([decipher.update(ciphertext), decipher.final()])
  const identity = identityFromPrivateKey(privateKey)
  if (ks.address != null && ks.address !== '' && identity.address.slice(2).toLowerCase() !== ks.address.toLowerCase().replace(/^0x/, '')) {
    throw new InvalidKeystoreError('the address does not match the key', options.path)
  }
  return identity
}

/** Writes `<datadir>/keystore.json` atomically (temp file, fsync, rename), mode 0600. */
export async function saveKeystore (datadir: string, identity: Identity, passphrase: string, options: KeystoreOptions = {}): Promise<string> {
  const path = keystorePath(datadir)
  const json = await encryptKeystore(identity, passphrase, options)
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  await writeFileAtomically(path, json)
  return path
}

/** Reads and decrypts `<datadir>/keystore.json`. */
export async function loadKeystore (datadir: string, passphrase: string, options: AbortOptions = {}): Promise<Identity> {
  const path = keystorePath(datadir)
  let json: string
  try {
    json = await readFile(path, { encoding: 'utf8', signal: options.signal })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new KeystoreNotFoundError(path)
    throw err
  }
  return decryptKeystore(json, passphrase, { ...options, path })
}

function parseKeystore (json: string, path?: string): KeystoreV3 {
  let ks: unknown
  try {
    ks = JSON.parse(json)
  } catch {
    throw new InvalidKeystoreError('not JSON', path)
  }
  const k = ks as Partial<KeystoreV3> & { Crypto?: KeystoreV3['crypto'] }
  // Some old wallets wrote `Crypto` with a capital C.
  const crypto = k.crypto ?? k.Crypto
  if (k == null || typeof k !== 'object' || Number(k.version) !== 3 || crypto == null || typeof crypto !== 'object') {
    throw new InvalidKeystoreError('missing version 3 or crypto section', path)
  }
  if (crypto.cipher !== 'aes-128-ctr') throw new InvalidKeystoreError(`unsupported cipher ${String(crypto.cipher)}`, path)
  if (crypto.kdfparams == null || crypto.cipherparams == null) throw new InvalidKeystoreError('missing kdf or cipher parameters', path)
  return { ...(k as KeystoreV3), crypto }
}

function mac (dk: Buffer, ciphertext: Buffer): Buffer {
  return Buffer.from(keccak_256(Buffer.concat([dk.subarray(16, 32), ciphertext])))
}

function runScrypt (passphrase: string, salt: Buffer, { N, r, p }: ScryptParams, signal?: AbortSignal): Promise<Buffer> {
  signal?.throwIfAborted()
  // ethers and geth normalize the passphrase to NFKC; so must we, or keystores would not interoperate.
  const pw = Buffer.from(passphrase.normalize('NFKC'), 'utf8')
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(pw, salt, 32, { N, r, p, maxmem: 256 * N * r + 2 ** 20 }, (err, key) => { err != null ? reject(err) : resolve(key) })
  }).catch(async (err: unknown) => {
    // OpenSSL refuses some valid parameter sets (N >= 2^(16r), e.g. the Web3 test vector's r = 1):
    // fall back to a JS scrypt for those rather than refusing a wallet's keystore.
    if ((err as Error).name !== 'RangeError' && (err as NodeJS.ErrnoException).code !== 'ERR_CRYPTO_INVALID_SCRYPT_PARAMS') throw err
    return Buffer.from(await scryptAsync(pw, salt, { N, r, p, dkLen: 32, maxmem: 256 * N * r * Math.max(1, p) + 2 ** 20 }))
  })
}

function hex (value: unknown, field: string, path?: string): Buffer {
  if (typeof value !== 'string' || !/^(0x)?([0-9a-fA-F]{2})+$/.test(value)) throw new InvalidKeystoreError(`field ${field} is not hex`, path)
  return Buffer.from(value.replace(/^0x/, ''), 'hex')
}

function num (value: unknown, field: string, path?: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidKeystoreError(`field ${field} is not a positive integer`, path)
  return n
}
