/**
 * A peer id built from a secp256k1 key carries that public key, so the chain address of a peer
 * is a pure function of its peer id: address = keccak(uncompressed public key)[12:]. Offers,
 * receipts and lists are checked against it, which ties what a peer signs to its chain account.
 */
import { createHash } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { addressOfPublicKey } from '../crypto/identity.ts'
import { BoundedMap } from '../util/bounded-map.ts'
import { cached } from '../util/memo.ts'
import { InvalidSignatureError } from './errors.ts'
import { nativeSecp256k1Keys } from './native-keys.ts'
import type { PeerId, PrivateKey } from '@libp2p/interface'

/** The 33-byte compressed secp256k1 public key inside a peer id. */
export function publicKeyOfPeer (peer: PeerId | string): Uint8Array {
  let id: PeerId
  try {
    id = typeof peer === 'string' ? parsedPeerId(peer) : peer
  } catch {
    throw new InvalidSignatureError(`"${String(peer)}" is not a peer id`)
  }
  if (id.type !== 'secp256k1' || id.publicKey == null) {
    throw new InvalidSignatureError(`Peer ${id.toString()} does not use a secp256k1 key; BitDust peers must.`)
  }
  return id.publicKey.raw
}

/**
 * Peer ids and signatures seen again and again (every offer a supplier refreshes, each checked on
 * arrival and again when cached) are worked out once: decompressing a key and checking a
 * signature are BigInt arithmetic in pure JS, 0.25 and ~2 ms.
 */
const MEMO_ENTRIES = 4096
const addresses = new BoundedMap<string, `0x${string}`>(MEMO_ENTRIES)
const verified = new BoundedMap<string, true>(MEMO_ENTRIES)
/** Parsed peer ids: parsing one decompresses its key in pure JS (libp2p's key class). */
const peerIds = new BoundedMap<string, PeerId>(MEMO_ENTRIES)

function parsedPeerId (peer: string): PeerId {
  return cached(peerIds, peer, () => peerIdFromString(peer))
}

/** Lowercase 0x address of the chain account behind a peer id. */
export function addressOfPeer (peer: PeerId | string): `0x${string}` {
  return cached(addresses, peer.toString(), () => addressOfPublicKey(publicKeyOfPeer(peer)).toLowerCase() as `0x${string}`)
}

export async function signBytes (key: PrivateKey, bytes: Uint8Array): Promise<Uint8Array> {
  return await key.sign(bytes)
}

/** True if `sig` over `bytes` was made by the key of `peer`. */
export async function verifyByPeer (peer: PeerId | string, bytes: Uint8Array, sig: Uint8Array): Promise<boolean> {
  // Only successes are remembered, under everything that made them true: a forgery costs a
  // verification each time, as it should.
  const who = Buffer.from(peer.toString())
  const lengths = Buffer.alloc(12)
  lengths.writeUInt32BE(who.length, 0)
  lengths.writeUInt32BE(bytes.length, 4)
  lengths.writeUInt32BE(sig.length, 8)
  const key = createHash('sha256').update(lengths).update(who).update(bytes).update(sig).digest('base64')
  if (verified.has(key)) return true
  nativeSecp256k1Keys()
  try {
    const id = typeof peer === 'string' ? parsedPeerId(peer) : peer
    if (id.type !== 'secp256k1' || id.publicKey == null) return false
    const ok = await id.publicKey.verify(bytes, sig)
    if (ok) verified.set(key, true)
    return ok
  } catch {
    return false
  }
}
