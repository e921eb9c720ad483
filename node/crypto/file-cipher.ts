/**
 * Streaming file encryption: AES-256-GCM in fixed chunks under a random per-file key.
 *
 * Format v1: header (32 bytes) = magic "BDFE" | version u8 = 1 | reserved 3 × u8 = 0 |
 * chunkSize u32 BE | plaintextSize u64 BE | salt (12); then chunk i = AES-GCM(plaintext chunk i)
 * || tag (16). Every chunk is chunkSize bytes but the last; an empty file has one empty chunk so
 * the header is still authenticated. nonce_i = salt with its last 8 bytes XOR i (big-endian);
 * associated data = header || final flag (1 byte). Binding the header (sizes) into every chunk and
 * flagging the last one detects truncation, extension, reordering and tampering; the salt keeps
 * nonces unique even if a caller reuses a key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import type { AbortOptions } from '@libp2p/interface'
import { FILE_CHUNK_SIZE, FILE_CIPHER_VERSION, MAX_FILE_CHUNK_SIZE } from './constants.ts'
import { DecryptionError, InvalidKeyError, MalformedDataError, UnsupportedVersionError } from './errors.ts'
import { readChunks } from '../util/files.ts'
import { nativeAddon } from '../util/native.ts'

export const FILE_HEADER_SIZE = 32
export const FILE_KEY_SIZE = 32
const TAG = 16
/** Bytes of the tag after each chunk's ciphertext. */
export const CHUNK_TAG_SIZE = TAG
/** The addon's AES-256-GCM (alg 1 of aeadSeal and aeadOpen), when it was built. */
const seal = nativeAddon?.aeadSeal
const aeadOpen = nativeAddon?.aeadOpen
const AES_256_GCM = 1
/** Pieces the addon takes in one call. */
const MAX_OPEN_PARTS = 64
const MAGIC = Buffer.from('BDFE')
/** 2^53 - 1: sizes travel as JS numbers. */
const MAX_PLAINTEXT = Number.MAX_SAFE_INTEGER

export interface FileHeader {
  version: number
  chunkSize: number
  plaintextSize: number
  salt: Buffer
}

export function generateFileKey (): Uint8Array {
  return new Uint8Array(randomBytes(FILE_KEY_SIZE))
}

export function chunkCount (plaintextSize: number, chunkSize: number): number {
  return Math.max(1, Math.ceil(plaintextSize / chunkSize))
}

/** Bytes of the encrypted form of `plaintextSize` bytes. */
export function ciphertextSize (plaintextSize: number, chunkSize = FILE_CHUNK_SIZE): number {
  return FILE_HEADER_SIZE + plaintextSize + chunkCount(plaintextSize, chunkSize) * TAG
}

export function encodeFileHeader (h: FileHeader): Buffer {
  const b = Buffer.alloc(FILE_HEADER_SIZE)
  MAGIC.copy(b, 0)
  b[4] = h.version
  b.writeUInt32BE(h.chunkSize, 8)
  b.writeBigUInt64BE(BigInt(h.plaintextSize), 12)
  h.salt.copy(b, 20)
  return b
}

export function decodeFileHeader (b: Uint8Array): FileHeader {
  if (b.length < FILE_HEADER_SIZE) throw new MalformedDataError('encrypted file', 'it is shorter than its header')
  const buf = Buffer.from(b.buffer, b.byteOffset, FILE_HEADER_SIZE)
  if (!buf.subarray(0, 4).equals(MAGIC)) throw new MalformedDataError('encrypted file', 'bad magic bytes')
  const version = buf[4] as number
  if (version !== FILE_CIPHER_VERSION) throw new UnsupportedVersionError('encrypted file', version, FILE_CIPHER_VERSION)
  if (buf[5] !== 0 || buf[6] !== 0 || buf[7] !== 0) throw new MalformedDataError('encrypted file', 'reserved header bytes are set')
  const chunkSize = buf.readUInt32BE(8)
  if (chunkSize < 1 || chunkSize > MAX_FILE_CHUNK_SIZE) throw new MalformedDataError('encrypted file', `chunk size ${chunkSize} out of range`)
  const size = buf.readBigUInt64BE(12)
  if (size > BigInt(MAX_PLAINTEXT)) throw new MalformedDataError('encrypted file', 'size out of range')
  return { version, chunkSize, plaintextSize: Number(size), salt: Buffer.from(buf.subarray(20, 32)) }
}

function checkKey (key: Uint8Array): Buffer {
  if (key.length !== FILE_KEY_SIZE) throw new InvalidKeyError(`a file key is ${FILE_KEY_SIZE} bytes, got ${key.length}`)
  return Buffer.from(key)
}

function nonce (salt: Buffer, index: number): Buffer {
  const n = Buffer.from(salt)
  n.writeBigUInt64BE(n.readBigUInt64BE(4) ^ BigInt(index), 4)
  return n
}

/** Encrypts one file chunk by chunk; `encryptChunk` may be called in any order. */
export class ChunkEncryptor {
  readonly header: Buffer
  readonly chunkSize: number
  readonly plaintextSize: number
  readonly chunks: number
  private readonly key: Buffer
  readonly salt: Buffer
  private readonly aad: [Buffer, Buffer]

  /**
   * `salt` (12 bytes, default random) seeds the chunk nonces. Give the same key and salt to
   * encrypt a file again to the same bytes (an upload sends a second pass of what it hashed);
   * never reuse them for different plaintext.
   */
  constructor (key: Uint8Array, plaintextSize: number, options: { chunkSize?: number, salt?: Uint8Array } = {}) {
    this.key = checkKey(key)
    this.chunkSize = options.chunkSize ?? FILE_CHUNK_SIZE
    if (!Number.isSafeInteger(plaintextSize) || plaintextSize < 0) throw new RangeError(`bad plaintext size ${plaintextSize}`)
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 1 || this.chunkSize > MAX_FILE_CHUNK_SIZE) throw new RangeError(`bad chunk size ${this.chunkSize}`)
    this.plaintextSize = plaintextSize
    this.chunks = chunkCount(plaintextSize, this.chunkSize)
    if (options.salt !== undefined && options.salt.length !== 12) throw new RangeError(`a file salt is 12 bytes, got ${options.salt.length}`)
    this.salt = options.salt !== undefined ? Buffer.from(options.salt) : randomBytes(12)
    this.header = encodeFileHeader({ version: FILE_CIPHER_VERSION, chunkSize: this.chunkSize, plaintextSize, salt: this.salt })
    this.aad = [Buffer.concat([this.header, Buffer.of(0)]), Buffer.concat([this.header, Buffer.of(1)])]
  }

  /** Plaintext bytes of chunk `index`. */
  chunkLength (index: number): number {
    return index === this.chunks - 1 ? this.plaintextSize - index * this.chunkSize : this.chunkSize
  }

  /** Ciphertext || tag of chunk `index`. */
  encryptChunk (index: number, plaintext: Uint8Array): Buffer {
    const [body, tag] = this.encryptChunkParts(index, plaintext)
    return Buffer.concat([body, tag], body.length + TAG)
  }

  /**
   * Ciphertext || tag of chunk `index` written into `out` (at least plaintext + 16 bytes); returns
   * the part of `out` it filled. With the addon nothing is allocated, so a caller that copies each
   * chunk on can reuse one `out` for all of them (an upload otherwise had a fresh MiB, every page
   * faulted in, per chunk).
   */
  sealChunkInto (index: number, plaintext: Uint8Array, out: Buffer): Buffer {
    this.checkChunk(index, plaintext)
    if (out.length < plaintext.length + TAG) throw new RangeError(`out must hold ${plaintext.length + TAG} bytes, it has ${out.length}`)
    const target = out.subarray(0, plaintext.length + TAG)
    if (seal !== undefined) {
      seal(this.key, nonce(this.salt, index), this.aad[index === this.chunks - 1 ? 1 : 0], [plaintext], target, AES_256_GCM)
      return target
    }
    const [body, tag] = this.encryptChunkParts(index, plaintext)
    body.copy(target)
    tag.copy(target, body.length)
    return target
  }

  /** Ciphertext and tag of chunk `index` as two buffers (saves a copy when the caller copies anyway). */
  encryptChunkParts (index: number, plaintext: Uint8Array): [Buffer, Buffer] {
    this.checkChunk(index, plaintext)
    const c = createCipheriv('aes-256-gcm', this.key, nonce(this.salt, index))
    c.setAAD(this.aad[index === this.chunks - 1 ? 1 : 0])
    const body = c.update(plaintext)
    c.final()
    return [body, c.getAuthTag()]
  }

  private checkChunk (index: number, plaintext: Uint8Array): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.chunks) throw new RangeError(`chunk ${index} out of range`)
    if (plaintext.length !== this.chunkLength(index)) throw new RangeError(`chunk ${index} must be ${this.chunkLength(index)} bytes, got ${plaintext.length}`)
  }
}

/**
 * Incremental decryption: push ciphertext in pieces of any size, get plaintext of each chunk that
 * authenticated. Call `end()` to check nothing is missing. A streaming consumer must discard what
 * it received if a later push or `end()` throws (decryptFile does this for you).
 */
export class StreamDecryptor {
  private readonly key: Buffer
  private readonly inPlace: boolean
  private header: FileHeader | undefined
  private aad: [Buffer, Buffer] | undefined
  private chunks = 0
  private index = 0
  private pending: Buffer[] = []
  private pendingBytes = 0
  private headerBytes: Buffer | undefined

  /**
   * `inPlace`: the caller gives up the bytes it pushes, and each chunk is decrypted where its
   * pieces lie (with the addon: no allocation and no copy, where node's cipher made a new MiB per
   * chunk); the plaintext returned is views of the pushed buffers. Without the addon, or without
   * `inPlace`, the pushed bytes are left as they are.
   */
  constructor (key: Uint8Array, options: { inPlace?: boolean } = {}) {
    this.key = checkKey(key)
    this.inPlace = options.inPlace === true && aeadOpen !== undefined
  }

  get fileHeader (): FileHeader | undefined { return this.header }

  push (bytes: Uint8Array): Buffer[] {
    const out: Buffer[] = []
    if (bytes.length === 0) return out
    this.pending.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    this.pendingBytes += bytes.length
    for (;;) {
      if (this.header == null) {
        if (this.pendingBytes < FILE_HEADER_SIZE) return out
        const hb = this.take(FILE_HEADER_SIZE)
        this.header = decodeFileHeader(hb)
        this.headerBytes = Buffer.from(hb)
        this.chunks = chunkCount(this.header.plaintextSize, this.header.chunkSize)
        this.aad = [Buffer.concat([this.headerBytes, Buffer.of(0)]), Buffer.concat([this.headerBytes, Buffer.of(1)])]
        continue
      }
      if (this.index >= this.chunks) {
        if (this.pendingBytes > 0) throw new DecryptionError('there are bytes after the last chunk')
        return out
      }
      const need = this.plainLength(this.index) + TAG
      if (this.pendingBytes < need) return out
      out.push(...this.decryptPending(need))
    }
  }

  /** Throws DecryptionError if the ciphertext ended early. */
  end (): void {
    if (this.header == null) throw new DecryptionError('the header is missing')
    if (this.index < this.chunks || this.pendingBytes > 0) {
      throw new DecryptionError(`it ends after chunk ${this.index} of ${this.chunks}`)
    }
  }

  private plainLength (index: number): number {
    const h = this.header as FileHeader
    return index === this.chunks - 1 ? h.plaintextSize - index * h.chunkSize : h.chunkSize
  }

  /**
   * Decrypts the next chunk (`n` bytes with its tag) where its pieces lie in `pending`: a chunk
   * spans many network pieces, and gathering them first would copy every byte once more. Nothing
   * is returned before the tag authenticates the whole chunk.
   */
  private decryptPending (n: number): Buffer[] {
    if (this.inPlace) return this.openPending(n)
    const h = this.header as FileHeader
    const d = createDecipheriv('aes-256-gcm', this.key, nonce(h.salt, this.index))
    d.setAAD((this.aad as [Buffer, Buffer])[this.index === this.chunks - 1 ? 1 : 0])
    const plain: Buffer[] = []
    let body = n - TAG
    while (body > 0) {
      const piece = this.take(Math.min(body, (this.pending[0] as Buffer).length))
      plain.push(d.update(piece))
      body -= piece.length
    }
    d.setAuthTag(this.take(TAG))
    try {
      d.final()
    } catch {
      for (const p of plain) p.fill(0)
      throw new DecryptionError(`chunk ${this.index} of ${this.chunks} did not authenticate`)
    }
    this.index++
    return plain
  }

  /** decryptPending in place, through the addon; at most MAX_OPEN_PARTS pieces per call. */
  private openPending (n: number): Buffer[] {
    const h = this.header as FileHeader
    const parts: Buffer[] = []
    let body = n - TAG
    while (body > 0) {
      // A chunk in more pieces than the addon takes at once is gathered into fewer.
      const piece = parts.length < MAX_OPEN_PARTS - 1 ? this.take(Math.min(body, (this.pending[0] as Buffer).length)) : this.take(body)
      parts.push(piece)
      body -= piece.length
    }
    const tag = this.take(TAG)
    const aad = (this.aad as [Buffer, Buffer])[this.index === this.chunks - 1 ? 1 : 0]
    if (!(aeadOpen as NonNullable<typeof aeadOpen>)(this.key, nonce(h.salt, this.index), aad, parts, tag, AES_256_GCM)) {
      for (const p of parts) p.fill(0)
      throw new DecryptionError(`chunk ${this.index} of ${this.chunks} did not authenticate`)
    }
    this.index++
    return parts
  }

  private take (n: number): Buffer {
    const first = this.pending[0] as Buffer
    let out: Buffer
    if (first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.pending.shift()
      else this.pending[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let o = 0
      while (o < n) {
        const p = this.pending[0] as Buffer
        const t = Math.min(p.length, n - o)
        p.copy(out, o, 0, t)
        o += t
        if (t === p.length) this.pending.shift()
        else this.pending[0] = p.subarray(t)
      }
    }
    this.pendingBytes -= n
    return out
  }
}

/** Encrypts a plaintext stream of exactly `size` bytes. */
export async function * encryptStream (source: AsyncIterable<Uint8Array>, key: Uint8Array, size: number, options: AbortOptions & { chunkSize?: number } = {}): AsyncGenerator<Buffer> {
  const enc = new ChunkEncryptor(key, size, options)
  yield enc.header
  let index = 0
  let buf = Buffer.allocUnsafe(enc.chunkLength(0))
  let filled = 0
  let seen = 0
  for await (const piece of source) {
    options.signal?.throwIfAborted()
    seen += piece.length
    if (seen > size) throw new RangeError(`the stream is longer than the declared ${size} bytes`)
    let o = 0
    while (o < piece.length) {
      const t = Math.min(buf.length - filled, piece.length - o)
      buf.set(piece.subarray(o, o + t), filled)
      filled += t
      o += t
      if (filled === buf.length && index < enc.chunks - 1) {
        yield enc.encryptChunk(index++, buf)
        buf = Buffer.allocUnsafe(enc.chunkLength(index))
        filled = 0
      }
    }
  }
  if (seen !== size) throw new RangeError(`the stream ended after ${seen} of the declared ${size} bytes`)
  yield enc.encryptChunk(index, buf.subarray(0, filled))
}

/** Decrypts a ciphertext stream, yielding only authenticated plaintext; throws on any damage. */
export async function * decryptStream (source: AsyncIterable<Uint8Array>, key: Uint8Array, options: AbortOptions = {}): AsyncGenerator<Buffer> {
  const dec = new StreamDecryptor(key)
  for await (const piece of source) {
    options.signal?.throwIfAborted()
    for (const plain of dec.push(piece)) yield plain
  }
  dec.end()
}

/**
 * Writes the stream to `path` through a temp file in the same directory (fsync, rename), so a
 * failure anywhere leaves nothing at `path`.
 */
export async function writeAtomically (path: string, source: AsyncIterable<Uint8Array>, options: AbortOptions = {}): Promise<number> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.part`
  const fh = await open(tmp, 'wx', 0o600)
  let written = 0
  try {
    for await (const piece of source) {
      options.signal?.throwIfAborted()
      let o = 0
      while (o < piece.length) {
        const { bytesWritten } = await fh.write(piece, o, piece.length - o)
        o += bytesWritten
      }
      written += piece.length
    }
    await fh.sync()
    await fh.close()
    await rename(tmp, path)
    return written
  } catch (err) {
    await fh.close().catch(() => {})
    await rm(tmp, { force: true })
    throw err
  }
}

/** Encrypts a file to `outputPath` (atomically). Returns the key (generated unless given). */
export async function encryptFile (inputPath: string, outputPath: string, options: AbortOptions & { key?: Uint8Array, chunkSize?: number } = {}): Promise<Uint8Array> {
  const key = options.key ?? generateFileKey()
  const fh = await open(inputPath, 'r')
  const { size } = await fh.stat()
  await fh.close()
  await writeAtomically(outputPath, encryptStream(readChunks(inputPath, options.chunkSize ?? FILE_CHUNK_SIZE, options), key, size, options), options)
  return key
}

/** Decrypts a file to `outputPath`; on any authentication failure nothing is left at `outputPath`. */
export async function decryptFile (inputPath: string, outputPath: string, key: Uint8Array, options: AbortOptions = {}): Promise<number> {
  return writeAtomically(outputPath, decryptStream(readChunks(inputPath, FILE_CHUNK_SIZE + TAG, options), key, options), options)
}
