import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { SEGMENT_SIZE } from '../../../node/proofs/constants.ts'
import {
  buildLevels, createProof, hashLeaves, hashNode, merkleRoot, rootOf, segmentCount, treeDepth, verifyProof, zeroSubtree,
} from '../../../node/proofs/merkle.ts'

describe('proofs/merkle', () => {
  it('rejects fragment sizes that are not whole segments', () => {
    expect(() => segmentCount(0)).to.throw().with.property('name', 'InvalidFragmentSizeError')
    expect(() => segmentCount(SEGMENT_SIZE + 1)).to.throw().with.property('name', 'InvalidFragmentSizeError')
    expect(segmentCount(SEGMENT_SIZE * 3)).to.equal(3)
  })

  it('pads to a power of two with zero leaves', () => {
    const frag = randomBytes(SEGMENT_SIZE * 3)
    const [a, b, c] = hashLeaves(frag) as [Uint8Array, Uint8Array, Uint8Array]
    const expected = hashNode(hashNode(a, b), hashNode(c, zeroSubtree(0)))
    expect(Buffer.from(merkleRoot(frag))).to.deep.equal(Buffer.from(expected))
  })

  for (const segments of [1, 2, 3, 5, 8, 13, 64, 100]) {
    it(`proves and verifies every segment of a ${segments}-segment fragment`, () => {
      const frag = randomBytes(SEGMENT_SIZE * segments)
      const levels = buildLevels(hashLeaves(frag))
      const root = rootOf(levels)
      for (let i = 0; i < segments; i++) {
        const proof = createProof(frag, levels, i)
        expect(proof.path.length).to.equal(treeDepth(segments))
        expect(verifyProof(root, frag.length, proof)).to.equal(true)
      }
    })
  }

  it('rejects a tampered segment, a wrong index and a short path', () => {
    const frag = randomBytes(SEGMENT_SIZE * 8)
    const levels = buildLevels(hashLeaves(frag))
    const root = rootOf(levels)
    const proof = createProof(frag, levels, 5)
    const tampered = Buffer.from(proof.segment)
    tampered[0] = (tampered[0] as number) ^ 1
    expect(verifyProof(root, frag.length, { ...proof, segment: tampered })).to.equal(false)
    expect(verifyProof(root, frag.length, { ...proof, index: 4 })).to.equal(false)
    expect(verifyProof(root, frag.length, { ...proof, index: 8 })).to.equal(false)
    expect(verifyProof(root, frag.length, { ...proof, path: proof.path.slice(1) })).to.equal(false)
  })
})
