import { expect } from 'chai'
import { createCipheriv, randomBytes } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { noiseCrypto, noiseStats, uint16Length } from '../../../node/p2p/noise-crypto.ts'
import { Cleanup, collect, fragment, startNode, tempDir } from './helpers/nodes.ts'
import { DirBackend } from './helpers/dir-backend.ts'
import { nativeAddon } from '../../../node/util/native.ts'
import { youngGcStats } from '../../../node/util/gc.ts'

const bytes = (x: Uint8Array | Uint8ArrayList): Buffer => Buffer.from(x instanceof Uint8Array ? x : x.subarray())

describe('p2p: noise ChaCha20-Poly1305 with a prepared key', () => {
  const k = new Uint8Array(randomBytes(32))
  const nonce = new Uint8Array(12).fill(7)
  const ad = new Uint8Array(randomBytes(32))

  for (const size of [0, 100, 1199, 1200, 4096, 65519]) {
    it(`${size}-byte messages: identical to the library's own cipher both ways`, () => {
      const pt = new Uint8Array(randomBytes(size))
      const ours = bytes(noiseCrypto.chaCha20Poly1305Encrypt(pt, nonce, ad, k))
      const theirs = bytes(defaultCrypto.chaCha20Poly1305Encrypt(pt, nonce, ad, k))
      expect(ours.equals(theirs)).to.equal(true)
      expect(bytes(noiseCrypto.chaCha20Poly1305Decrypt(theirs, nonce, ad, k)).equals(Buffer.from(pt))).to.equal(true)
      expect(bytes(defaultCrypto.chaCha20Poly1305Decrypt(ours, nonce, ad, k)).equals(Buffer.from(pt))).to.equal(true)
    })
  }

  it('takes messages split over a Uint8ArrayList', () => {
    const pt = randomBytes(40_000)
    const list = new Uint8ArrayList(pt.subarray(0, 10_000), pt.subarray(10_000, 30_001), pt.subarray(30_001))
    const ct = bytes(noiseCrypto.chaCha20Poly1305Encrypt(list, nonce, ad, k))
    expect(ct.equals(bytes(defaultCrypto.chaCha20Poly1305Encrypt(pt, nonce, ad, k)))).to.equal(true)
    const split = new Uint8ArrayList(ct.subarray(0, 5), ct.subarray(5, 39_990), ct.subarray(39_990))
    expect(bytes(noiseCrypto.chaCha20Poly1305Decrypt(split, nonce, ad, k)).equals(pt)).to.equal(true)
  })

  it('refuses a tampered message, a wrong key, nonce or associated data', () => {
    const pt = randomBytes(5000)
    const ct = bytes(noiseCrypto.chaCha20Poly1305Encrypt(pt, nonce, ad, k))
    const flipped = Buffer.from(ct); flipped[100] = (flipped[100] as number) ^ 1
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(flipped, nonce, ad, k)).to.throw()
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(ct, nonce, ad, new Uint8Array(randomBytes(32)))).to.throw()
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(ct, new Uint8Array(12), ad, k)).to.throw()
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(ct, nonce, new Uint8Array(32), k)).to.throw()
  })

  it('keys the prepared key by the session key object: a new key object with other bytes is not confused', () => {
    const pt = randomBytes(3000)
    const k2 = new Uint8Array(randomBytes(32))
    const a = bytes(noiseCrypto.chaCha20Poly1305Encrypt(pt, nonce, ad, k))
    const b = bytes(noiseCrypto.chaCha20Poly1305Encrypt(pt, nonce, ad, k2))
    expect(a.equals(b)).to.equal(false)
    expect(b.equals(bytes(defaultCrypto.chaCha20Poly1305Encrypt(pt, nonce, ad, k2)))).to.equal(true)
  })

  describe('the addon\'s ChaCha20-Poly1305 (transport messages)', () => {
    const seal = nativeAddon?.aeadSeal
    const open = nativeAddon?.aeadOpen
    const nodeSeal = (pt: Uint8Array): Buffer => {
      const c = createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: 16 })
      c.setAAD(ad, { plaintextLength: pt.byteLength })
      return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()])
    }

    it('is built (CI builds node/native; without it noise falls back to node\'s cipher)', () => {
      expect(seal).to.be.a('function')
      expect(open).to.be.a('function')
    })

    for (const cuts of [[], [1], [7, 4096], [65518]]) {
      it(`seals a message given in ${cuts.length + 1} piece(s) exactly as node does, and opens it in place`, () => {
        const pt = new Uint8Array(randomBytes(65519))
        const parts = [0, ...cuts, pt.length].slice(1).map((end, i, ends) => pt.subarray(i === 0 ? 0 : ends[i - 1], end))
        const out = new Uint8Array(pt.length + 16)
        seal!(k, nonce, ad, parts, out)
        expect(Buffer.from(out).equals(nodeSeal(pt))).to.equal(true)

        const body = out.subarray(0, pt.length)
        const pieces = [0, ...cuts, pt.length].slice(1).map((end, i, ends) => body.subarray(i === 0 ? 0 : ends[i - 1], end))
        expect(open!(k, nonce, ad, pieces, out.subarray(pt.length))).to.equal(true)
        expect(Buffer.from(body).equals(Buffer.from(pt))).to.equal(true)
      })
    }

    it('seals and opens AES-256-GCM (alg 1, the file format\'s chunks) exactly as node does', () => {
      const pt = new Uint8Array(randomBytes(100_003))
      const out = new Uint8Array(pt.length + 16)
      seal!(k, nonce, ad, [pt.subarray(0, 5), pt.subarray(5)], out, 1)
      const c = createCipheriv('aes-256-gcm', k, nonce)
      c.setAAD(ad)
      expect(Buffer.from(out).equals(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]))).to.equal(true)
      const body = out.subarray(0, pt.length)
      expect(open!(k, nonce, ad, [body], out.subarray(pt.length), 1)).to.equal(true)
      expect(Buffer.from(body).equals(Buffer.from(pt))).to.equal(true)
      expect(() => seal!(k, nonce, ad, [pt], out, 2)).to.throw(RangeError)
    })

    it('refuses a message whose tag, body or additional data was changed', () => {
      const pt = new Uint8Array(randomBytes(3000))
      for (const change of ['tag', 'body', 'ad'] as const) {
        const out = new Uint8Array(pt.length + 16)
        seal!(k, nonce, ad, [pt], out)
        const ad2 = new Uint8Array(ad)
        if (change === 'tag') out[pt.length + 3]! ^= 1
        if (change === 'body') out[10]! ^= 1
        if (change === 'ad') ad2[0]! ^= 1
        expect(open!(k, nonce, ad2, [out.subarray(0, pt.length)], out.subarray(pt.length)), change).to.equal(false)
      }
    })

    it('rejects arguments of the wrong shape with a RangeError instead of touching memory', () => {
      const out = new Uint8Array(16 + 4)
      expect(() => { seal!(k.subarray(1), nonce, ad, [new Uint8Array(4)], out) }).to.throw(RangeError, /key/)
      expect(() => { seal!(k, nonce, ad, [new Uint8Array(5)], out) }).to.throw(RangeError, /out/)
      expect(() => { open!(k, nonce, ad, [new Uint8Array(4)], new Uint8Array(15)) }).to.throw(RangeError, /tag/)
      expect(() => { seal!(k, nonce, ad, Array.from({ length: 65 }, () => new Uint8Array(0)), new Uint8Array(16)) }).to.throw(RangeError, /parts/)
    })
  })

  it('message lengths: read across list parts, and a short buffer is a RangeError (what the decoder waits on)', () => {
    expect(uint16Length(new Uint8Array([0xff, 0xef, 9]))).to.equal(65519)
    expect(uint16Length(new Uint8ArrayList(new Uint8Array([0x01]), new Uint8Array([0x02, 3])))).to.equal(0x0102)
    for (const short of [new Uint8Array(0), new Uint8Array([1]), new Uint8ArrayList(new Uint8Array([1]))]) {
      expect(() => uint16Length(short)).to.throw(RangeError)
    }
  })

  describe('on real connections', function () {
    this.timeout(60_000)
    const cleanup = new Cleanup()
    afterEach(async () => { await cleanup.run() })

    it('every secured connection decrypts split messages in place, and the bytes come through intact', async () => {
      const before = { ...noiseStats }
      const noted = youngGcStats.noted
      const backend = new DirBackend(await tempDir(cleanup), { quota: 64 * 1024 * 1024 })
      const supplier = await startNode(cleanup, {}, { fragments: backend })
      const consumer = await startNode(cleanup)
      await consumer.connect(supplier.multiaddrs()[0] as string)
      // 8 MiB in 100 KiB pieces: noise messages straddle every TCP read, both ways.
      const { bytes: data, meta } = fragment(32 * 1024)
      const pieces = Array.from({ length: Math.ceil(data.length / 100_000) }, (_, i) => data.subarray(i * 100_000, (i + 1) * 100_000))
      await consumer.putFragment(supplier.peerId, meta, pieces)
      const got = await collect(consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root }))
      expect(Buffer.from(got).equals(Buffer.from(data))).to.equal(true)
      expect(noiseStats.patched - before.patched).to.equal(2) // one connection, both ends
      expect(noiseStats.unpatched).to.equal(0)
      // Both ends count what they encrypt and decrypt, so that traffic drives young
      // collections (util/gc.ts): 8 MiB sent and received by each of the two nodes, at least.
      expect(youngGcStats.noted - noted).to.be.at.least(4 * data.length)
    })
  })
})

