import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { generateIdentity } from '../../../node/crypto/identity.ts'
import { decodeFileHeader, generateFileKey, StreamDecryptor } from '../../../node/crypto/file-cipher.ts'
import { open } from '../../../node/crypto/seal.ts'
import { decodeStoredTree, encodeStoredTree } from '../../../node/proofs/stored-tree.ts'
import { TreeBuilder } from '../../../node/proofs/tree-builder.ts'
import { encodeStream } from '../../../node/storage/encode.ts'
import { createManifest, decodeManifest, encodeManifest, openManifest, sealManifest } from '../../../node/storage/manifest.ts'
import { memorySink, type MemoryFragment } from '../../../node/storage/memory.ts'

/** A tiny seeded PRNG so a failure can be replayed. */
function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
}

function mutate (input: Uint8Array, r: () => number): Uint8Array {
  const b = Buffer.from(input)
  const kind = Math.floor(r() * 4)
  if (kind === 0 && b.length > 0) { const i = Math.floor(r() * b.length); b[i] = (b[i] as number) ^ (1 + Math.floor(r() * 255)); return b }
  if (kind === 1) return b.subarray(0, Math.floor(r() * b.length))
  if (kind === 2) return Buffer.concat([b, randomBytes(1 + Math.floor(r() * 64))])
  return randomBytes(Math.floor(r() * (b.length + 64)))
}

function expectTyped (fn: () => unknown, allowed: string[]): void {
  try {
    fn()
  } catch (err) {
    expect(allowed, `unexpected ${(err as Error).name}: ${(err as Error).message}`).to.include((err as Error).name)
  }
}

describe('decoders reject damaged input with typed errors (seeded fuzzing)', () => {
  const owner = generateIdentity()
  const N = 2000

  it('manifests (sealed and plain)', async () => {
    const frags: MemoryFragment[] = []
    const enc = await encodeStream([Buffer.from('x')], 1, (i) => memorySink(frags, i), { k: 2, m: 1, shardSize: 4096 })
    const manifest = createManifest({ name: 'a', coding: enc, key: enc.key, ownerPublicKey: owner.publicKey })
    const sealed = sealManifest(manifest, owner.publicKey)
    const plain = encodeManifest(manifest)
    const r = rng(1)
    for (let i = 0; i < N; i++) {
      expectTyped(() => openManifest(owner.privateKey, mutate(sealed, r)), ['InvalidManifestError', 'UnsupportedVersionError', 'SealAuthenticationError', 'MalformedDataError'])
      expectTyped(() => decodeManifest(mutate(plain, r)), ['InvalidManifestError', 'UnsupportedVersionError'])
    }
  })

  it('sealed boxes, file headers and encrypted chunks', () => {
    const r = rng(2)
    const key = generateFileKey()
    for (let i = 0; i < N; i++) {
      expectTyped(() => open(owner.privateKey, mutate(randomBytes(80), r)), ['SealAuthenticationError', 'MalformedDataError', 'UnsupportedVersionError'])
      expectTyped(() => decodeFileHeader(mutate(Buffer.concat([Buffer.from('BDFE'), Buffer.from([1, 0, 0, 0]), randomBytes(24)]), r)), ['MalformedDataError', 'UnsupportedVersionError'])
      expectTyped(() => { const d = new StreamDecryptor(key); d.push(mutate(randomBytes(200), r)); d.end() }, ['MalformedDataError', 'UnsupportedVersionError', 'DecryptionError'])
    }
  })

  it('stored tree files', async () => {
    const b = new TreeBuilder()
    await b.update(randomBytes(300 * 256))
    const file = encodeStoredTree(await b.digest())
    const r = rng(3)
    for (let i = 0; i < N; i++) {
      expectTyped(() => decodeStoredTree(mutate(file, r)), ['TreeFileError', 'InvalidFragmentSizeError'])
    }
  })
})
