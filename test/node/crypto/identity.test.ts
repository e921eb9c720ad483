import { expect } from 'chai'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Wallet } from 'ethers'
import { privateKeyToAccount } from 'viem/accounts'
import {
  addressOfPublicKey, compressPublicKey, generateIdentity, identityFromPrivateKey, toLibp2pPrivateKey,
} from '../../../node/crypto/identity.ts'

describe('crypto/identity', () => {
  it('derives the same address as ethers and viem, and a libp2p secp256k1 peer id from the same key', () => {
    const id = generateIdentity()
    expect(id.privateKey.length).to.equal(32)
    expect(id.publicKey.length).to.equal(33)
    expect(id.publicKeyUncompressed.length).to.equal(65)
    expect(id.address).to.equal(new Wallet(id.privateKeyHex).address)
    expect(id.address).to.equal(privateKeyToAccount(id.privateKeyHex).address)
    const key = toLibp2pPrivateKey(id)
    expect(key.type).to.equal('secp256k1')
    expect(Buffer.from(key.publicKey.raw)).to.deep.equal(Buffer.from(id.publicKey))
    const peerId = peerIdFromPrivateKey(key)
    expect(peerId.type).to.equal('secp256k1')
    expect(Buffer.from(peerId.publicKey!.raw)).to.deep.equal(Buffer.from(id.publicKey))
  })

  it('is deterministic from the private key, given as bytes or hex', () => {
    const a = generateIdentity()
    const b = identityFromPrivateKey(a.privateKeyHex)
    expect(b.address).to.equal(a.address)
    expect(addressOfPublicKey(a.publicKey)).to.equal(a.address)
    expect(Buffer.from(compressPublicKey(a.publicKeyUncompressed))).to.deep.equal(Buffer.from(a.publicKey))
  })

  it('rejects invalid keys with InvalidKeyError', () => {
    expect(() => identityFromPrivateKey(new Uint8Array(32))).to.throw().with.property('name', 'InvalidKeyError')
    expect(() => identityFromPrivateKey(new Uint8Array(31).fill(1))).to.throw().with.property('name', 'InvalidKeyError')
    expect(() => identityFromPrivateKey('0x' + 'ff'.repeat(32))).to.throw().with.property('name', 'InvalidKeyError')
    const bad = new Uint8Array(33); bad[0] = 2; bad.fill(0xff, 1)
    expect(() => compressPublicKey(bad)).to.throw().with.property('name', 'InvalidKeyError')
  })
})
