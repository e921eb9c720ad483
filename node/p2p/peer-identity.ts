/**
 * A peer id built from a secp256k1 key carries that public key, so the chain address of a peer
 * is a pure function of its peer id: address = keccak(uncompressed public key)[12:]. Offers,
 * receipts and lists are checked against it, which ties what a peer signs to its chain account.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { addressOfPublicKey } from '../crypto/identity.ts'
import { InvalidSignatureError } from './errors.ts'
import type { PeerId, PrivateKey } from '@libp2p/interface'

/** The 33-byte compressed secp256k1 public key inside a peer id. */
export function publicKeyOfPeer (peer: PeerId | string): Uint8Array {
  let id: PeerId
  try {
    id = typeof peer === 'string' ? peerIdFromString(peer) : peer
  } catch {
    throw new InvalidSignatureError(`"${String(peer)}" is not a peer id`)
  }
  if (id.type !== 'secp256k1' || id.publicKey == null) {
    throw new InvalidSignatureError(`Peer ${id.toString()} does not use a secp256k1 key; BitDust peers must.`)
  }
  return id.publicKey.raw
}

/** Lowercase 0x address of the chain account behind a peer id. */
export function addressOfPeer (peer: PeerId | string): `0x${string}` {
  return addressOfPublicKey(publicKeyOfPeer(peer)).toLowerCase() as `0x${string}`
}

export async function signBytes (key: PrivateKey, bytes: Uint8Array): Promise<Uint8Array> {
  return await key.sign(bytes)
}

/** True if `sig` over `bytes` was made by the key of `peer`. */
export async function verifyByPeer (peer: PeerId | string, bytes: Uint8Array, sig: Uint8Array): Promise<boolean> {
  try {
    const id = typeof peer === 'string' ? peerIdFromString(peer) : peer
    if (id.type !== 'secp256k1' || id.publicKey == null) return false
    return await id.publicKey.verify(bytes, sig)
  } catch {
    return false
  }
}
