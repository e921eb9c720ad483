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

  it('opens the Web3 Secret Storage test vectors (pbkdf2, and scrypt with r = 1 that OpenSSL refuses)', async function () {
    this.timeout(60000)
    const vectors = [
      '{"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"6087dab2f9fdbbfaddc31a909735c1e6"},"ciphertext":"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46","kdf":"pbkdf2","kdfparams":{"c":262144,"dklen":32,"prf":"hmac-sha256","salt":"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},"mac":"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"},"id":"3198bc9c-6672-5ab3-d995-4942343ae5b6","version":3}',
      '{"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"83dbcc02d8ccb40e466191a123791e0e"},"ciphertext":"d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c","kdf":"scrypt","kdfparams":{"dklen":32,"n":262144,"p":8,"r":1,"salt":"ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19"},"mac":"2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097"},"id":"3198bc9c-6672-5ab3-d995-4942343ae5b6","version":3}',
    ]
    for (const v of vectors) {
      const id = await decryptKeystore(v, 'testpassword')
      expect(id.privateKeyHex).to.equal('0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d')
      await decryptKeystore(v, 'wrong').then(() => expect.fail(), (err) => expect(err).to.have.property('name', 'WrongPassphraseError'))
    }
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
