import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  ChunkEncryptor, ciphertextSize, decryptFile, decryptStream, encryptFile, encryptStream, FILE_HEADER_SIZE, generateFileKey,
} from '../../../node/crypto/file-cipher.ts'

async function collect (it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const p of it) parts.push(Buffer.from(p))
  return Buffer.concat(parts)
}

async function * pieces (buf: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < buf.length; o += size) yield buf.subarray(o, o + size)
}

describe('crypto/file-cipher', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'bitdust-fc-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  for (const [size, chunk, piece] of [[0, 1024, 7], [1, 1024, 1], [1024, 1024, 100], [1025, 1024, 333], [10_000, 1000, 4096], [300_000, 65536, 65536]] as const) {
    it(`round-trips ${size} bytes in ${chunk}-byte chunks fed ${piece} at a time`, async () => {
      const key = generateFileKey()
      const plain = randomBytes(size)
      const ct = await collect(encryptStream(pieces(plain, piece), key, size, { chunkSize: chunk }))
      expect(ct.length).to.equal(ciphertextSize(size, chunk))
      const back = await collect(decryptStream(pieces(ct, piece + 5), key))
      expect(back.equals(plain)).to.equal(true)
    })
  }

  it('seals a chunk into a reused buffer to the same bytes as encryptChunk, with and without the addon', async () => {
    const key = generateFileKey()
    const size = 3 * 4096 + 100
    const plain = randomBytes(size)
    const enc = new ChunkEncryptor(key, size, { chunkSize: 4096 })
    const out = Buffer.alloc(4096 + 16)
    for (let i = 0; i < enc.chunks; i++) {
      const piece = plain.subarray(i * 4096, Math.min(size, (i + 1) * 4096))
      const sealed = enc.sealChunkInto(i, piece, out)
      expect(sealed.buffer).to.equal(out.buffer) // written where it was asked to go
      expect(sealed.equals(enc.encryptChunk(i, piece))).to.equal(true)
    }
    expect(() => enc.sealChunkInto(0, plain.subarray(0, 4096), Buffer.alloc(4096))).to.throw(RangeError)
    expect(() => enc.sealChunkInto(1, plain.subarray(0, 10), out)).to.throw(RangeError)
    // The same bytes through node's cipher, where the addon is not used.
    const script = `
      const { ChunkEncryptor } = await import(${JSON.stringify(new URL('../../../node/crypto/file-cipher.ts', import.meta.url).href)})
      const enc = new ChunkEncryptor(Buffer.from('${Buffer.from(key).toString('hex')}', 'hex'), 100, { chunkSize: 4096, salt: Buffer.from('${enc.salt.toString('hex')}', 'hex') })
      process.stdout.write(enc.sealChunkInto(0, Buffer.alloc(100, 7), Buffer.alloc(200)).toString('hex'))
    `
    const { spawnSync } = await import('node:child_process')
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, BITDUST_NO_NATIVE: '1' }, encoding: 'utf8' })
    expect(r.status, r.stderr).to.equal(0)
    const same = new ChunkEncryptor(key, 100, { chunkSize: 4096, salt: enc.salt })
    expect(r.stdout).to.equal(same.sealChunkInto(0, Buffer.alloc(100, 7), Buffer.alloc(200)).toString('hex'))
  })

  it('detects tampering, truncation, extension, reordering and a wrong key with DecryptionError', async () => {
    const key = generateFileKey()
    const plain = randomBytes(5000)
    const ct = await collect(encryptStream(pieces(plain, 5000), key, 5000, { chunkSize: 1000 }))
    const expectFail = async (bytes: Uint8Array, k = key, name = 'DecryptionError'): Promise<void> => {
      try {
        await collect(decryptStream(pieces(bytes, 777), k))
        expect.fail('decrypted damaged ciphertext')
      } catch (err) {
        expect(err).to.have.property('name', name)
      }
    }
    for (const i of [FILE_HEADER_SIZE + 3, FILE_HEADER_SIZE + 1000 + 16 + 2, ct.length - 1]) {
      const t = Buffer.from(ct); t[i] = (t[i] as number) ^ 1
      await expectFail(t)
    }
    // Header fields are authenticated: flip a salt byte.
    const h = Buffer.from(ct); h[25] = (h[25] as number) ^ 1
    await expectFail(h)
    await expectFail(ct.subarray(0, ct.length - 1016)) // one whole chunk dropped
    await expectFail(ct.subarray(0, ct.length - 3))
    await expectFail(Buffer.concat([ct, Buffer.alloc(1)]))
    const swapped = Buffer.concat([ct.subarray(0, FILE_HEADER_SIZE), ct.subarray(FILE_HEADER_SIZE + 1016, FILE_HEADER_SIZE + 2032), ct.subarray(FILE_HEADER_SIZE, FILE_HEADER_SIZE + 1016), ct.subarray(FILE_HEADER_SIZE + 2032)])
    await expectFail(swapped)
    await expectFail(ct, generateFileKey())
    const v2 = Buffer.from(ct); v2[4] = 2
    await expectFail(v2, key, 'UnsupportedVersionError')
    const bad = Buffer.from(ct); bad[0] = 0
    await expectFail(bad, key, 'MalformedDataError')
  })

  it('marks the last chunk: a file cut at a chunk boundary with a forged smaller size fails', async () => {
    // Re-encrypting the first two chunks under a header claiming 2000 bytes is impossible without the
    // key; what an attacker can do is drop chunks, which end() reports.
    const key = generateFileKey()
    const enc = new ChunkEncryptor(key, 3000, { chunkSize: 1000 })
    const ct = Buffer.concat([enc.header, enc.encryptChunk(0, randomBytes(1000)), enc.encryptChunk(1, randomBytes(1000))])
    try {
      await collect(decryptStream(pieces(ct, 1000), key))
      expect.fail('accepted a truncated file')
    } catch (err) {
      expect(err).to.have.property('name', 'DecryptionError')
      expect((err as Error).message).to.match(/ends after chunk 2 of 3/)
    }
  })

  it('encrypts and decrypts files atomically; a tampered file leaves no plaintext at the output path', async () => {
    const input = join(dir, 'in.bin')
    const plain = randomBytes(3 * 1024 * 1024 + 17)
    await writeFile(input, plain)
    const key = await encryptFile(input, join(dir, 'ct.bin'))
    await decryptFile(join(dir, 'ct.bin'), join(dir, 'out.bin'), key)
    expect((await readFile(join(dir, 'out.bin'))).equals(plain)).to.equal(true)
    const ct = await readFile(join(dir, 'ct.bin'))
    ct[ct.length - 100] = (ct[ct.length - 100] as number) ^ 1 // in the last chunk: earlier chunks decrypt first
    await writeFile(join(dir, 'bad.bin'), ct)
    try {
      await decryptFile(join(dir, 'bad.bin'), join(dir, 'out2.bin'), key)
      expect.fail('decrypted a tampered file')
    } catch (err) {
      expect(err).to.have.property('name', 'DecryptionError')
    }
    expect((await readdir(dir)).sort()).to.deep.equal(['bad.bin', 'ct.bin', 'in.bin', 'out.bin'])
  })
})
