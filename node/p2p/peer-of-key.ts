/** The peer id of a secp256k1 public key (33-byte compressed or 65-byte uncompressed): how a contact known by its key is reached. */
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { compressPublicKey } from '../crypto/identity.ts'

export function peerIdOfPublicKey (publicKey: Uint8Array | string): string {
  return peerIdFromPublicKey(publicKeyFromRaw(compressPublicKey(publicKey))).toString()
}
