/**
 * The manifest: what a file is and how to get it back (name, size, coding parameters, fragment
 * roots, deal id) plus its file key sealed to the owner and to each contact it is shared with.
 * It travels and rests encrypted: sealed to a recipient's public key (normally the owner's), so
 * suppliers see only ciphertext of known length.
 *
 * Wire format v1: magic "BDMF" | version u8 = 1 | seal(recipient, JSON, aad = "bitdust/manifest/v1").
 */
import { compressPublicKey } from '../crypto/identity.ts'
import { open as openSealed, seal } from '../crypto/seal.ts'
import { UnsupportedVersionError } from '../crypto/errors.ts'
import { MAX_K, MAX_M } from '../erasure/constants.ts'
import type { CodingParams } from './encode.ts'
import { hex } from './encode.ts'

export const MANIFEST_VERSION = 1
const MAGIC = Buffer.from('BDMF')
const AAD = Buffer.from('bitdust/manifest/v1')
const FILE_KEY_AAD = Buffer.from('bitdust/file-key/v1')
/** Bounds a decoder enforces before trusting anything. */
export const MAX_MANIFEST_BYTES = 256 * 1024
const MAX_NAME = 1024
const MAX_GRANTS = 256

export class InvalidManifestError extends Error {
  override name = 'InvalidManifestError'
  constructor (reason: string) {
    super(`The manifest is invalid (${reason}). It is damaged or was not made by BitDust; fetch it again.`)
  }
}

export class NoAccessError extends Error {
  override name = 'NoAccessError'
  constructor () {
    super('This manifest grants no access to your key: ask the owner to share the file with you.')
  }
}

export interface Grant {
  /** Compressed public key (0x-hex) the file key is sealed to. */
  to: `0x${string}`
  /** seal(to, fileKey, "bitdust/file-key/v1"), 0x-hex. */
  fileKey: `0x${string}`
}

export interface Manifest {
  version: number
  name: string
  size: number
  mime?: string
  /** Milliseconds since the epoch. */
  created: number
  coding: CodingParams
  /** bytes32 deal id on chain, set once the deal is opened. */
  dealId?: `0x${string}`
  /** The owner's compressed public key. */
  owner: `0x${string}`
  /** The file key sealed to the owner. */
  fileKey: `0x${string}`
  /** The file key sealed to contacts it was shared with. */
  grants: Grant[]
}

export interface CreateManifestInit {
  name: string
  mime?: string
  coding: CodingParams
  key: Uint8Array
  ownerPublicKey: Uint8Array | string
  dealId?: `0x${string}`
  created?: number
}

export function createManifest (init: CreateManifestInit): Manifest {
  const owner = compressPublicKey(init.ownerPublicKey)
  const m: Manifest = {
    version: MANIFEST_VERSION,
    name: init.name,
    size: init.coding.size,
    ...(init.mime != null ? { mime: init.mime } : {}),
    created: init.created ?? Date.now(),
    // Only the coding fields: callers often pass a whole EncodeResult, which also holds the raw key.
    coding: pickCoding(init.coding),
    ...(init.dealId != null ? { dealId: init.dealId } : {}),
    owner: hex(owner),
    fileKey: hex(seal(owner, init.key, FILE_KEY_AAD)),
    grants: [],
  }
  validateManifest(m)
  return m
}

/** The file key, for the owner or a contact with a grant. */
export function openFileKey (manifest: Manifest, privateKey: Uint8Array): Uint8Array {
  for (const sealed of [manifest.fileKey, ...manifest.grants.map((g) => g.fileKey)]) {
    try {
      return openSealed(privateKey, Buffer.from(sealed.slice(2), 'hex'), FILE_KEY_AAD)
    } catch (err) {
      if ((err as Error).name !== 'SealAuthenticationError') throw err
    }
  }
  throw new NoAccessError()
}

/** A copy of the manifest that also lets `contactPublicKey` open the file key. */
export function grantAccess (manifest: Manifest, ownerPrivateKey: Uint8Array, contactPublicKey: Uint8Array | string): Manifest {
  const key = openFileKey(manifest, ownerPrivateKey)
  const to = hex(compressPublicKey(contactPublicKey))
  const grants = manifest.grants.filter((g) => g.to !== to)
  grants.push({ to, fileKey: hex(seal(Buffer.from(to.slice(2), 'hex'), key, FILE_KEY_AAD)) })
  return { ...manifest, grants }
}

/** Plain serialized form (inside the seal). */
export function encodeManifest (manifest: Manifest): Uint8Array {
  validateManifest(manifest)
  return Buffer.from(JSON.stringify(normalize(manifest)))
}

export function decodeManifest (bytes: Uint8Array): Manifest {
  if (bytes.length > MAX_MANIFEST_BYTES) throw new InvalidManifestError(`${bytes.length} bytes is over the ${MAX_MANIFEST_BYTES}-byte limit`)
  let m: unknown
  try {
    m = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch {
    throw new InvalidManifestError('not JSON')
  }
  const v = (m as { version?: unknown } | null)?.version
  if (typeof v === 'number' && v !== MANIFEST_VERSION) throw new UnsupportedVersionError('manifest', v, MANIFEST_VERSION)
  validateManifest(m)
  return normalize(m)
}

function pickCoding (c: CodingParams): CodingParams {
  return {
    format: c.format,
    codec: c.codec,
    k: c.k,
    m: c.m,
    shardSize: c.shardSize,
    chunkSize: c.chunkSize,
    size: c.size,
    contentSize: c.contentSize,
    fragmentSize: c.fragmentSize,
    roots: [...c.roots],
  }
}

/** Known fields only: whatever else a peer put in is dropped, not trusted. */
function normalize (m: Manifest): Manifest {
  return {
    version: m.version,
    name: m.name,
    size: m.size,
    ...(m.mime != null ? { mime: m.mime } : {}),
    created: m.created,
    coding: pickCoding(m.coding),
    ...(m.dealId != null ? { dealId: m.dealId } : {}),
    owner: m.owner,
    fileKey: m.fileKey,
    grants: m.grants.map((g) => ({ to: g.to, fileKey: g.fileKey })),
  }
}

/** Encrypts the manifest to a recipient (normally the owner's own public key). */
export function sealManifest (manifest: Manifest, recipientPublicKey: Uint8Array | string): Uint8Array {
  return Buffer.concat([MAGIC, Buffer.of(MANIFEST_VERSION), seal(recipientPublicKey, encodeManifest(manifest), AAD)])
}

export function openManifest (privateKey: Uint8Array, sealed: Uint8Array): Manifest {
  if (sealed.length > MAX_MANIFEST_BYTES + 128) throw new InvalidManifestError('too large')
  if (sealed.length < 5 || !Buffer.from(sealed.subarray(0, 4)).equals(MAGIC)) throw new InvalidManifestError('bad magic bytes')
  if (sealed[4] !== MANIFEST_VERSION) throw new UnsupportedVersionError('manifest', sealed[4] as number, MANIFEST_VERSION)
  return decodeManifest(openSealed(privateKey, sealed.subarray(5), AAD))
}

const HEX32 = /^0x[0-9a-fA-F]{64}$/
const HEXPUB = /^0x0[23][0-9a-fA-F]{64}$/
const HEXBYTES = /^0x([0-9a-fA-F]{2})+$/

function isInt (v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max
}

export function validateManifest (m: unknown): asserts m is Manifest {
  const fail = (reason: string): never => { throw new InvalidManifestError(reason) }
  if (m == null || typeof m !== 'object') fail('not an object')
  const x = m as Record<string, unknown>
  if (x.version !== MANIFEST_VERSION) fail(`version ${String(x.version)}`)
  if (typeof x.name !== 'string' || x.name.length === 0 || x.name.length > MAX_NAME) fail('name missing or too long')
  if (!isInt(x.size, 0, Number.MAX_SAFE_INTEGER)) fail('size')
  if (x.mime !== undefined && (typeof x.mime !== 'string' || x.mime.length > 255)) fail('mime')
  if (!isInt(x.created, 0, Number.MAX_SAFE_INTEGER)) fail('created')
  if (x.dealId !== undefined && (typeof x.dealId !== 'string' || !HEX32.test(x.dealId))) fail('deal id is not bytes32 hex')
  if (typeof x.owner !== 'string' || !HEXPUB.test(x.owner)) fail('owner is not a compressed public key')
  if (typeof x.fileKey !== 'string' || !HEXBYTES.test(x.fileKey) || x.fileKey.length > 1024) fail('file key')
  if (!Array.isArray(x.grants) || x.grants.length > MAX_GRANTS) fail('grants')
  for (const g of x.grants as unknown[]) {
    const gg = g as Record<string, unknown> | null
    if (gg == null || typeof gg.to !== 'string' || !HEXPUB.test(gg.to) || typeof gg.fileKey !== 'string' || !HEXBYTES.test(gg.fileKey) || gg.fileKey.length > 1024) fail('a grant')
  }
  const c = x.coding as Record<string, unknown> | null
  if (c == null || typeof c !== 'object') fail('coding parameters missing')
  const cc = c as Record<string, unknown>
  if (!isInt(cc.format, 1, 255)) fail('fragment format')
  if (typeof cc.codec !== 'string' || cc.codec.length > 64) fail('codec')
  if (!isInt(cc.k, 1, MAX_K) || !isInt(cc.m, 1, MAX_M)) fail('k or m out of range')
  if (!isInt(cc.shardSize, 256, 64 * 1024 * 1024) || (cc.shardSize as number) % 256 !== 0) fail('shard size')
  if (!isInt(cc.chunkSize, 1, 16 * 1024 * 1024)) fail('chunk size')
  if (!isInt(cc.size, 0, Number.MAX_SAFE_INTEGER) || cc.size !== x.size) fail('coded size')
  if (!isInt(cc.contentSize, 1, Number.MAX_SAFE_INTEGER) || !isInt(cc.fragmentSize, 256, Number.MAX_SAFE_INTEGER)) fail('content or fragment size')
  if (!Array.isArray(cc.roots) || cc.roots.length !== (cc.k as number) + (cc.m as number) || !cc.roots.every((r) => typeof r === 'string' && HEX32.test(r))) fail('fragment roots')
}
