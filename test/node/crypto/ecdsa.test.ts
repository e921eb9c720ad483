import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { CURVE_ORDER, verifySha256Der } from '../../../node/crypto/ecdsa.ts'
import { generateIdentity } from '../../../node/crypto/identity.ts'
import { libraryVerify, nativeKeyStats, nativeSecp256k1Keys } from '../../../node/p2p/native-keys.ts'

/** (r, s) of a DER signature and back: the test builds the forms a forger would send. */
function parseDer (sig: Uint8Array): { r: bigint, s: bigint } {
  const rLen = sig[3] as number
  const r = BigInt(`0x${Buffer.from(sig.subarray(4, 4 + rLen)).toString('hex')}`)
  const s = BigInt(`0x${Buffer.from(sig.subarray(6 + rLen)).toString('hex')}`)
  return { r, s }
}
function der (r: bigint, s: bigint): Uint8Array {
  const int = (x: bigint): Buffer => {
    let h = x.toString(16)
    if (h.length % 2 === 1) h = `0${h}`
    let b = Buffer.from(h, 'hex')
    if (((b[0] as number) & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b])
    return Buffer.concat([Buffer.from([0x02, b.length]), b])
  }
  const body = Buffer.concat([int(r), int(s)])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}

describe('ecdsa: secp256k1 verification through OpenSSL', () => {
  before(() => { nativeSecp256k1Keys() })

  it('accepts every signature libp2p makes, as the library did, through the patched key class', async () => {
    expect(nativeKeyStats.installed).to.equal(true)
    const library = libraryVerify.fn
    if (library === undefined) throw new Error('the library method was not kept')
    for (let i = 0; i < 20; i++) {
      const key = privateKeyFromRaw(generateIdentity().privateKey)
      const message = randomBytes(1 + i * 37)
      const sig = await key.sign(message)
      const before = nativeKeyStats.verified
      expect(await key.publicKey.verify(message, sig)).to.equal(true)
      expect(nativeKeyStats.verified).to.equal(before + 1)
      expect(await library.call(key.publicKey, message, sig)).to.equal(true)
    }
  })

  it('verifies a message given in pieces, as libp2p passes lists', async () => {
    const key = privateKeyFromRaw(generateIdentity().privateKey)
    const parts = [randomBytes(10), randomBytes(300), randomBytes(1)]
    const sig = await key.sign(Buffer.concat(parts))
    expect(verifySha256Der(key.publicKey.raw, parts, sig)).to.equal(true)
    expect(verifySha256Der(key.publicKey.raw, parts.slice(0, 2), sig)).to.equal(false)
  })

  it('refuses what the library refuses: another message or key, a high-s twin, broken DER', async () => {
    const key = privateKeyFromRaw(generateIdentity().privateKey)
    const other = privateKeyFromRaw(generateIdentity().privateKey)
    const message = randomBytes(100)
    const good = await key.sign(message)
    const { r, s } = parseDer(good)
    expect(Buffer.from(der(r, s)).equals(Buffer.from(good))).to.equal(true)
    expect(verifySha256Der(key.publicKey.raw, message, good)).to.equal(true)
    const bad: Array<[string, Uint8Array, Uint8Array]> = [
      ['another message', Buffer.concat([message, Buffer.from([0])]), good],
      ['a high-s twin', message, der(r, CURVE_ORDER - s)],
      ['a truncated signature', message, good.subarray(0, good.length - 1)],
      ['a wrong outer length', message, Uint8Array.from([0x30, good.length, ...good.subarray(2)])],
      ['s = 0', message, der(r, 0n)],
      ['r and s swapped', message, der(s, r)],
      ['nothing', message, new Uint8Array(0)],
    ]
    const library = libraryVerify.fn as NonNullable<typeof libraryVerify.fn>
    for (const [what, msg, sig] of bad) {
      expect(await key.publicKey.verify(msg, sig), what).to.equal(false)
      let theirs: boolean
      try { theirs = await library.call(key.publicKey, msg, sig) } catch { theirs = false }
      expect(theirs, `the library on ${what}`).to.equal(false)
    }
    expect(await other.publicKey.verify(message, good)).to.equal(false)
    // Bytes that are no point on the curve: refused, not thrown.
    const notAPoint = Uint8Array.from([0x02, ...new Uint8Array(32).fill(0xff)])
    expect(verifySha256Der(notAPoint, message, good)).to.equal(false)
  })
})
