import { expect } from 'chai'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decryptKeystoreJson, encryptKeystoreJson } from 'ethers'
import { generateIdentity } from '../../../node/crypto/identity.ts'
import { decryptKeystore, encryptKeystore, loadKeystore, saveKeystore } from '../../../node/crypto/keystore.ts'

const LIGHT = { scrypt: { N: 1024, r: 8, p: 1 } }

describe('crypto/keystore', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'bitdust-ks-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('round-trips through <datadir>/keystore.json with mode 0600 and no temp file left', async () => {
    const id = generateIdentity()
    const path = await saveKeystore(dir, id, 'correct horse', LIGHT)
    expect(path).to.equal(join(dir, 'keystore.json'))
    expect((await stat(path)).mode & 0o777).to.equal(0o600)
    expect(await readdir(dir)).to.deep.equal(['keystore.json'])
    const back = await loadKeystore(dir, 'correct horse')
    expect(back.address).to.equal(id.address)
    expect(Buffer.from(back.privateKey)).to.deep.equal(Buffer.from(id.privateKey))
  })

  it('is a standard V3 keystore: ethers opens ours and we open ethers\'', async () => {
    const id = generateIdentity()
    const ours = await encryptKeystore(id, 'pässwörd', LIGHT)
    const acct = await decryptKeystoreJson(ours, 'pässwörd')
    expect(acct.address).to.equal(id.address)
    expect(acct.privateKey).to.equal(id.privateKeyHex)
    const theirs = await encryptKeystoreJson({ address: id.address, privateKey: id.privateKeyHex }, 'pässwörd', { scrypt: { N: 1024 } })
    const back = await decryptKeystore(theirs, 'pässwörd')
    expect(back.address).to.equal(id.address)
  })

  it('uses the standard scrypt cost by default', async function () {
    this.timeout(20000)
    const json = JSON.parse(await encryptKeystore(generateIdentity(), 'x'))
    expect(json.crypto.kdf).to.equal('scrypt')
    expect(json.crypto.kdfparams.n).to.equal(131072)
  })

  it('refuses a wrong passphrase with WrongPassphraseError', async () => {
    await saveKeystore(dir, generateIdentity(), 'right', LIGHT)
    try {
      await loadKeystore(dir, 'wrong')
      expect.fail('opened with a wrong passphrase')
    } catch (err) {
      expect(err).to.have.property('name', 'WrongPassphraseError')
      expect((err as Error).message).to.match(/passphrase/)
    }
  })

  it('reports a missing or damaged keystore with typed errors', async () => {
    await loadKeystore(dir, 'x').then(() => expect.fail(), (err) => expect(err).to.have.property('name', 'KeystoreNotFoundError'))
    await decryptKeystore('{"version":3}', 'x').then(() => expect.fail(), (err) => expect(err).to.have.property('name', 'InvalidKeystoreError'))
    await decryptKeystore('nope', 'x').then(() => expect.fail(), (err) => expect(err).to.have.property('name', 'InvalidKeystoreError'))
    const json = JSON.parse(await encryptKeystore(generateIdentity(), 'x', LIGHT))
    json.address = '00'.repeat(20)
    await decryptKeystore(JSON.stringify(json), 'x').then(() => expect.fail(), (err) => expect(err).to.have.property('name', 'InvalidKeystoreError'))
  })
})
