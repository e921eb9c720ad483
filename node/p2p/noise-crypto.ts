/**
 * Noise's ChaCha20-Poly1305 with the session key prepared once. The stock node implementation
 * passes the raw 32-byte key to createCipheriv for every message, and Node turns it into a
 * KeyObject each time: ~25 µs per message, a third of the cost of a 64 KiB message and most of a
 * small one (measured: 64 KiB messages 840 -> 1,230 MB/s with the key prepared). A noise cipher
 * state keeps one key Uint8Array for the whole session, so a WeakMap keyed by it holds exactly
 * one KeyObject per live session and lets it go with the session.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import type { ConnectionEncrypter, MessageStream, SecureConnectionOptions, SecuredConnection } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { nativeAddon } from '../util/native.ts'
import { cached } from '../util/memo.ts'
import { noteTransportBytes } from '../util/gc.ts'
import { coalesceTcpWrites } from './tcp-writes.ts'
import { blockReads } from './tcp-reads.ts'
import { BufferPool, consumed } from '../util/lent-buffers.ts'

const ALGORITHM = 'chacha20-poly1305'
const TAG = 16
/** Below this the wasm implementation the library uses for small messages is faster still. */
const SMALL = 1200

const keys = new WeakMap<Uint8Array, KeyObject>()

function keyObject (k: Uint8Array): KeyObject {
  return cached(keys, k, () => createSecretKey(k))
}

/** The addon's AEAD, when it was built: noise transport messages without allocations. */
const seal = nativeAddon?.aeadSeal
const open = nativeAddon?.aeadOpen
/** The addon takes a message in at most this many pieces (a message split finer uses node's cipher). */
const MAX_PARTS = 64

/**
 * Set only while this module's own transport encryption or decryption calls into the library's
 * cipher state (which owns the key and the nonce counter): where the next message's ciphertext
 * goes, and that the ciphertext being decrypted may be overwritten with its plaintext. The
 * handshake goes through the same functions and must keep its ciphertext (it hashes it after
 * decrypting), so outside these calls everything behaves as the library's own crypto.
 */
let sealInto: Uint8Array | undefined
let openInPlace = false

/** The buffers a message lies in (a list's parts are views: writing them writes the message). */
function pieces (x: Uint8Array | Uint8ArrayList): Uint8Array[] {
  return x instanceof Uint8Array ? [x] : Array.from(x)
}

export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    const into = sealInto
    if (seal !== undefined && into !== undefined && into.byteLength === plaintext.byteLength + TAG) {
      const parts = pieces(plaintext)
      if (parts.length <= MAX_PARTS) {
        seal(k, nonce, ad, parts, into)
        return into
      }
    }
    if (plaintext.byteLength < SMALL) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    const cipher = createCipheriv(ALGORITHM, keyObject(k), nonce, { authTagLength: TAG })
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
    if (plaintext instanceof Uint8Array) {
      const body = cipher.update(plaintext)
      cipher.final()
      // A list instead of a concatenated copy: the connection writes its parts as they are.
      return new Uint8ArrayList(body, cipher.getAuthTag())
    }
    const out = new Uint8ArrayList()
    for (const part of plaintext) out.append(cipher.update(part))
    cipher.final()
    out.append(cipher.getAuthTag())
    return out
  },
  chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
    if (open !== undefined && openInPlace && ciphertext.byteLength >= TAG) {
      const bodyLength = ciphertext.byteLength - TAG
      const body = ciphertext instanceof Uint8Array ? ciphertext.subarray(0, bodyLength) : ciphertext.sublist(0, bodyLength)
      const parts = pieces(body)
      if (parts.length <= MAX_PARTS) {
        // The tag is read before the body is overwritten; it lies past the body either way.
        if (!open(k, nonce, ad, parts, ciphertext.subarray(bodyLength))) throw new Error('Invalid chacha20poly1305 decryption')
        return body
      }
    }
    if (ciphertext.byteLength < SMALL) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
    const decipher = createDecipheriv(ALGORITHM, keyObject(k), nonce, { authTagLength: TAG })
    const bodyLength = ciphertext.byteLength - TAG
    decipher.setAAD(ad, { plaintextLength: bodyLength })
    decipher.setAuthTag(ciphertext.subarray(bodyLength))
    let out: Uint8Array | Uint8ArrayList
    if (ciphertext instanceof Uint8Array) {
      out = decipher.update(ciphertext.subarray(0, bodyLength))
    } else {
      out = new Uint8ArrayList()
      for (const part of ciphertext.sublist(0, bodyLength)) out.append(decipher.update(part))
    }
    // final() throws if the tag does not authenticate: nothing decrypted is returned then.
    decipher.final()
    return out
  },
}

/** Noise transport messages are at most this long, tag included (the spec's limit). */
const NOISE_MAX_MESSAGE = 65535

/** The parts of the library's encrypted stream that the patches use (checked before use). */
interface NoiseStreamInternals {
  decrypt: (chunk: Uint8Array | Uint8ArrayList) => Uint8ArrayList
  encrypt: (chunk: Uint8Array | Uint8ArrayList) => Uint8Array | Uint8ArrayList
  handshake: {
    decrypt: (ciphertext: Uint8Array | Uint8ArrayList, dst?: Uint8Array) => Uint8Array | Uint8ArrayList
    encrypt: (plaintext: Uint8Array | Uint8ArrayList) => Uint8Array | Uint8ArrayList
  }
  decoder: { lengthDecoder: (data: Uint8Array | Uint8ArrayList) => number }
  metrics?: { decryptedPackets: { increment: () => void }, decryptErrors: { increment: () => void }, encryptedPackets: { increment: () => void } }
}

function hasNoiseInternals (c: unknown): c is NoiseStreamInternals {
  const x = c as Partial<NoiseStreamInternals> | null
  return typeof x?.decrypt === 'function' && typeof x.encrypt === 'function' &&
    typeof x.handshake?.decrypt === 'function' && typeof x.handshake.encrypt === 'function' &&
    typeof x.decoder?.lengthDecoder === 'function'
}

/**
 * The library's length-prefix decoder asks for the next message's length after every message
 * and learns that the buffer ran dry from a RangeError, so nearly every TCP read (they end on a
 * message boundary) builds an Error with a stack trace: measured as ~7 % of a supplier's CPU
 * while receiving. One shared RangeError carries the same meaning without the stack walk; the
 * decoder only checks its type and never lets it escape.
 */
const NEED_MORE = new RangeError('Could not decode int16BE')

export function uint16Length (data: Uint8Array | Uint8ArrayList): number {
  if (data.byteLength < 2) throw NEED_MORE
  if (data instanceof Uint8Array) return (data[0]! << 8) | data[1]!
  return data.getUint16(0)
}

/**
 * The library's stream decryption, minus one copy. A noise message (64 KiB) almost always spans
 * two TCP reads, so it arrives as a Uint8ArrayList; the library flattens every such message into
 * a new buffer (for an in-place output that only its small-message path uses), which cost a copy
 * and an allocation per byte received: measured as the largest single cost of a supplier
 * receiving fragments. Here a split message is decrypted part by part where it lies.
 */
function decryptWithoutCopy (this: NoiseStreamInternals, chunk: Uint8Array | Uint8ArrayList): Uint8ArrayList {
  noteTransportBytes(chunk.byteLength)
  const output = new Uint8ArrayList()
  for (let i = 0; i < chunk.byteLength; i += NOISE_MAX_MESSAGE) {
    const end = Math.min(i + NOISE_MAX_MESSAGE, chunk.byteLength)
    if (end - TAG < i) throw new Error('Invalid chunk')
    const encrypted = chunk instanceof Uint8Array ? chunk.subarray(i, end) : chunk.sublist(i, end)
    // A contiguous message may still be decrypted in place, as the library does.
    const dst = encrypted instanceof Uint8Array ? encrypted.subarray(0, encrypted.byteLength - TAG) : undefined
    openInPlace = true
    try {
      output.append(this.handshake.decrypt(encrypted, dst))
      this.metrics?.decryptedPackets.increment()
    } catch (err) {
      this.metrics?.decryptErrors.increment()
      throw err
    } finally {
      openInPlace = false
    }
  }
  return output
}

/** Noise's largest plaintext per transport message (the message limit less the tag). */
const NOISE_MAX_PLAINTEXT = NOISE_MAX_MESSAGE - TAG

/**
 * The ciphertext of each write, lent to the connection (util/lent-buffers.ts): the TCP layer
 * gives it back once the kernel took it (tcp-writes.ts), a relayed connection once the outer
 * noise encrypted it.
 */
const ciphertexts = new BufferPool()

/**
 * The library's stream encryption, as one buffer per write: every message's 2-byte length,
 * ciphertext and tag are written in place into a single allocation, where the library built a
 * list of three pieces per message (and node's cipher allocated and copied the ciphertext).
 */
function encryptToOneBuffer (this: NoiseStreamInternals, chunk: Uint8Array | Uint8ArrayList): Uint8Array {
  const n = chunk.byteLength
  noteTransportBytes(n)
  const out = ciphertexts.lend(n + Math.ceil(n / NOISE_MAX_PLAINTEXT) * (2 + TAG))
  let o = 0
  for (let i = 0; i < n; i += NOISE_MAX_PLAINTEXT) {
    const end = Math.min(i + NOISE_MAX_PLAINTEXT, n)
    const length = end - i + TAG
    out[o] = length >>> 8
    out[o + 1] = length & 0xff
    const target = out.subarray(o + 2, o + 2 + length)
    sealInto = target
    let sealed: Uint8Array | Uint8ArrayList
    try {
      sealed = this.handshake.encrypt(chunk instanceof Uint8Array ? chunk.subarray(i, end) : chunk.sublist(i, end))
    } finally {
      sealInto = undefined
    }
    // Sealed elsewhere only if the message came in too many pieces for the addon.
    if (sealed !== target) target.set(sealed instanceof Uint8Array ? sealed : sealed.subarray())
    this.metrics?.encryptedPackets.increment()
    o += 2 + length
  }
  // The plaintext is copied into the ciphertext: a lent buffer may go back to its owner.
  for (const piece of pieces(chunk)) consumed(piece)
  return out
}

/** Connections whose transport paths were replaced (tests check the replacement takes). */
export const noiseStats = { patched: 0, unpatched: 0 }

/**
 * Wraps noise so that each secured connection decrypts in place, encrypts into one buffer per
 * write (with the addon), and finds message boundaries without throwing a fresh error per read;
 * and so that the TCP connection under it sends a turn's writes in one system call (tcp-writes.ts)
 * and, on connections a peer opened, reads a streaming peer's bytes in blocks of up to 1 MiB
 * (tcp-reads.ts).
 * If a future version of the library changes its stream's shape, connections keep the stock
 * paths (counted in noiseStats.unpatched, which the tests require to stay at zero).
 */
export function withNoiseFastPaths<C, E extends ConnectionEncrypter> (factory: (components: C) => E): (components: C) => E {
  return (components) => {
    const inner = factory(components)
    const patch = <T>(secured: SecuredConnection<T>): SecuredConnection<T> => {
      const conn: MessageStream = secured.connection
      if (hasNoiseInternals(conn)) {
        conn.decrypt = decryptWithoutCopy
        if (seal !== undefined) {
          conn.encrypt = encryptToOneBuffer
        } else {
          const encrypt = conn.encrypt
          conn.encrypt = function (this: NoiseStreamInternals, chunk) {
            const out = encrypt.call(this, chunk)
            for (const piece of pieces(chunk)) consumed(piece)
            return out
          }
        }
        conn.decoder.lengthDecoder = uint16Length
        noiseStats.patched++
      } else {
        noiseStats.unpatched++
      }
      return secured
    }
    return new Proxy(inner, {
      get (target, prop, receiver) {
        if (prop === 'secureInbound' || prop === 'secureOutbound') {
          const fn = target[prop].bind(target) as (c: MessageStream, o?: SecureConnectionOptions) => Promise<SecuredConnection>
          return async (c: MessageStream, o?: SecureConnectionOptions) => {
            const secured = patch(await fn(c, o))
            // After the handshake, whose messages must each go out at once (and whose reads
            // went through node's own path).
            coalesceTcpWrites(c)
            // Block reads only on connections a peer opened to us: that is where fragments are
            // pushed (uploads, repairs). On the dialing side, a download from k suppliers at
            // once measured slower with them (10+4 devnet: user and suppliers 15-30 % more CPU),
            // a cause not yet found.
            if (prop === 'secureInbound') blockReads(c)
            return secured
          }
        }
        return Reflect.get(target, prop, receiver) as unknown
      }
    })
  }
}
