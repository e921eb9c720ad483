import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { generateIdentity } from '../../../node/crypto/identity.ts'
import { open, seal, SEAL_OVERHEAD } from '../../../node/crypto/seal.ts'

describe('crypto/seal', () => {
  const alice = generateIdentity()
  const bob = generateIdentity()

  it('opens what was sealed to the key, with or without associated data', () => {
    for (const size of [0, 1, 32, 5000]) {
      const msg = randomBytes(size)
      const box = seal(alice.publicKey, msg)
      expect(box.length).to.equal(size + SEAL_OVERHEAD)
      expect(Buffer.from(open(alice.privateKey, box))).to.deep.equal(msg)
      const aad = Buffer.from('manifest:v1')
      expect(Buffer.from(open(alice.privateKey, seal(alice.publicKeyUncompressed, msg, aad), aad))).to.deep.equal(msg)
    }
  })

  it('is randomized: the same message seals to different boxes', () => {
    const msg = Buffer.from('file key')
    expect(Buffer.from(seal(alice.publicKey, msg))).to.not.deep.equal(Buffer.from(seal(alice.publicKey, msg)))
  })

  it('refuses the wrong key, tampering anywhere, and wrong associated data with SealAuthenticationError', () => {
    const box = seal(alice.publicKey, Buffer.from('secret'), Buffer.from('ctx'))
    expect(() => open(bob.privateKey, box, Buffer.from('ctx'))).to.throw().with.property('name', 'SealAuthenticationError')
    expect(() => open(alice.privateKey, box, Buffer.from('other'))).to.throw().with.property('name', 'SealAuthenticationError')
    expect(() => open(alice.privateKey, box)).to.throw().with.property('name', 'SealAuthenticationError')
    for (let i = 1; i < box.length; i++) {
      const t = Uint8Array.from(box)
      t[i] = (t[i] as number) ^ 0x01
      expect(() => open(alice.privateKey, t, Buffer.from('ctx')), `byte ${i}`).to.throw().with.property('name', 'SealAuthenticationError')
    }
  })

  it('rejects unknown versions and truncated boxes with typed errors', () => {
    const box = seal(alice.publicKey, Buffer.from('x'))
    const v2 = Uint8Array.from(box); v2[0] = 2
    expect(() => open(alice.privateKey, v2)).to.throw().with.property('name', 'UnsupportedVersionError')
    expect(() => open(alice.privateKey, box.subarray(0, SEAL_OVERHEAD - 1))).to.throw().with.property('name', 'MalformedDataError')
    expect(() => open(alice.privateKey, new Uint8Array(0))).to.throw().with.property('name', 'MalformedDataError')
  })
})
