import { expect } from 'chai'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { addressOfPublicKey, generateIdentity } from '../../../node/crypto/identity.ts'
import { addressOfPeer, signBytes, verifyByPeer } from '../../../node/p2p/peer-identity.ts'

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s))

describe('p2p/peer-identity', () => {
  const who = () => {
    const id = generateIdentity()
    const key = privateKeyFromRaw(id.privateKey)
    return { key, peerId: peerIdFromPrivateKey(key).toString(), address: id.address.toLowerCase() }
  }

  it('a peer id gives the address of its key, the same when asked again', () => {
    const p = who()
    expect(addressOfPeer(p.peerId)).to.equal(p.address)
    expect(addressOfPeer(p.peerId)).to.equal(p.address)
    expect(addressOfPeer(who().peerId)).to.not.equal(p.address)
  })

  it('a remembered verification never vouches for other bytes, another signature or another peer', async () => {
    const alice = who()
    const mallory = who()
    const bytes = b('offer: 1 TB at 7')
    const sig = await signBytes(alice.key, bytes)
    expect(await verifyByPeer(alice.peerId, bytes, sig)).to.equal(true)
    expect(await verifyByPeer(alice.peerId, bytes, sig)).to.equal(true) // from memory
    expect(await verifyByPeer(alice.peerId, b('offer: 1 TB at 1'), sig)).to.equal(false)
    expect(await verifyByPeer(mallory.peerId, bytes, sig)).to.equal(false)
    expect(await verifyByPeer(alice.peerId, bytes, await signBytes(mallory.key, bytes))).to.equal(false)
    // The same bytes split differently between message and signature are not the same question.
    const shifted = new Uint8Array([...bytes, sig[0] as number])
    expect(await verifyByPeer(alice.peerId, shifted, sig.subarray(1))).to.equal(false)
    // A failure is not remembered as anything: the genuine pair still verifies.
    expect(await verifyByPeer(alice.peerId, bytes, sig)).to.equal(true)
    expect(addressOfPublicKey(peerIdFromPrivateKey(alice.key).publicKey?.raw as Uint8Array).toLowerCase()).to.equal(alice.address)
  })
})
