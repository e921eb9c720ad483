import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { generateIdentity } from '../../../node/crypto/identity.ts'
import { encodeStream } from '../../../node/storage/encode.ts'
import { memorySink, type MemoryFragment } from '../../../node/storage/memory.ts'
import {
  createManifest, decodeManifest, encodeManifest, grantAccess, MAX_MANIFEST_BYTES, openFileKey, openManifest, sealManifest,
} from '../../../node/storage/manifest.ts'

describe('storage/manifest', () => {
  const owner = generateIdentity()
  const contact = generateIdentity()
  const stranger = generateIdentity()

  async function sample () {
    const frags: MemoryFragment[] = []
    const enc = await encodeStream([randomBytes(1000)], 1000, (i) => memorySink(frags, i), { k: 4, m: 2, shardSize: 4096 })
    // The whole EncodeResult, as callers pass it: the raw key in it must not reach the manifest.
    return { key: enc.key, manifest: createManifest({ name: 'holiday.jpg', mime: 'image/jpeg', coding: enc, key: enc.key, ownerPublicKey: owner.publicKey, dealId: `0x${'ab'.repeat(32)}` }) }
  }

  it('is sealed to the owner: suppliers see ciphertext, the owner reads it and its file key', async () => {
    const { key, manifest } = await sample()
    expect(Object.keys(manifest.coding)).to.not.include.members(['key', 'fragments'])
    expect(Buffer.from(encodeManifest(manifest)).includes(Buffer.from(Buffer.from(key).toString('hex')))).to.equal(false)
    const sealed = sealManifest(manifest, owner.publicKey)
    expect(Buffer.from(sealed).includes(Buffer.from('holiday'))).to.equal(false)
    const back = openManifest(owner.privateKey, sealed)
    expect(back).to.deep.equal(manifest)
    expect(Buffer.from(openFileKey(back, owner.privateKey)).equals(Buffer.from(key))).to.equal(true)
    expect(() => openManifest(stranger.privateKey, sealed)).to.throw().with.property('name', 'SealAuthenticationError')
  })

  it('shares the file key with a contact through a grant', async () => {
    const { key, manifest } = await sample()
    expect(() => openFileKey(manifest, contact.privateKey)).to.throw().with.property('name', 'NoAccessError')
    const shared = grantAccess(manifest, owner.privateKey, contact.publicKey)
    const forContact = openManifest(contact.privateKey, sealManifest(shared, contact.publicKey))
    expect(Buffer.from(openFileKey(forContact, contact.privateKey)).equals(Buffer.from(key))).to.equal(true)
    expect(() => openFileKey(shared, stranger.privateKey)).to.throw().with.property('name', 'NoAccessError')
  })

  it('rejects unknown versions, oversize input and malformed fields with typed errors', async () => {
    const { manifest } = await sample()
    const sealed = Buffer.from(sealManifest(manifest, owner.publicKey))
    const v2 = Buffer.from(sealed); v2[4] = 2
    expect(() => openManifest(owner.privateKey, v2)).to.throw().with.property('name', 'UnsupportedVersionError')
    expect(() => decodeManifest(Buffer.from(JSON.stringify({ ...manifest, version: 9 })))).to.throw().with.property('name', 'UnsupportedVersionError')
    expect(() => decodeManifest(Buffer.alloc(MAX_MANIFEST_BYTES + 1))).to.throw().with.property('name', 'InvalidManifestError')
    expect(() => decodeManifest(Buffer.from('nope'))).to.throw().with.property('name', 'InvalidManifestError')
    const bad = [
      { ...manifest, coding: { ...manifest.coding, k: 99 } },
      { ...manifest, coding: { ...manifest.coding, roots: manifest.coding.roots.slice(1) } },
      { ...manifest, dealId: '0x1234' },
      { ...manifest, size: -1 },
      { ...manifest, name: '' },
    ]
    for (const b of bad) expect(() => decodeManifest(Buffer.from(JSON.stringify(b)))).to.throw().with.property('name', 'InvalidManifestError')
    expect(decodeManifest(encodeManifest(manifest))).to.deep.equal(manifest)
    const extra = decodeManifest(Buffer.from(JSON.stringify({ ...manifest, evil: 1, coding: { ...manifest.coding, key: 'x' } })))
    expect(extra).to.deep.equal(manifest)
  })
})
