/**
 * Proof convention v1: a proof built in TypeScript by node/proofs/merkle.ts verifies in the Solidity
 * verifier (contracts/libraries/MerkleProofLib.sol) on the simulated chain, and a tampered one fails
 * in both.
 */
import { expect } from 'chai'
import { network } from 'hardhat'
import { createProof, treeDepth, verifyProof } from '../../node/proofs/merkle.ts'
import { packProofs, toHex } from '../../node/proofs/challenge.ts'
import { makeFragment } from './helpers/fragments.ts'
import type { MerkleProof } from '../../node/proofs/merkle.ts'

const { ethers, networkHelpers } = await network.create()

async function harness () {
  return await ethers.deployContract('MerkleProofHarness')
}

function tamper (proof: MerkleProof, what: 'segment' | 'sibling'): MerkleProof {
  if (what === 'segment') {
    const segment = Uint8Array.from(proof.segment)
    segment[17] = (segment[17] as number) ^ 1
    return { ...proof, segment }
  }
  const path = proof.path.map((s) => Uint8Array.from(s))
  const first = path[path.length - 1] as Uint8Array
  first[0] = (first[0] as number) ^ 0x80
  return { ...proof, path }
}

describe('proof agreement (TypeScript prover, Solidity verifier)', function () {
  for (const segments of [1, 2, 3, 4, 5, 17, 64]) {
    it(`verifies every segment of a ${segments}-segment fragment in both`, async function () {
      const h = await networkHelpers.loadFixture(harness)
      const f = makeFragment(segments * 256, `agree:${segments}`)
      expect(Number(await h.depthOf(segments))).to.equal(treeDepth(segments))
      for (let i = 0; i < segments; i++) {
        const proof = createProof(f.data, f.levels, i)
        expect(verifyProof(Buffer.from(f.root.slice(2), 'hex'), segments * 256, proof)).to.equal(true)
        expect(await h.verify(f.root, segments, i, packProofs([proof]))).to.equal(true)
        expect(await h.verifyMemory(f.root, segments, i, packProofs([proof]))).to.equal(true)
      }
    })
  }

  for (const what of ['segment', 'sibling'] as const) {
    it(`rejects a proof with a tampered ${what} in both`, async function () {
      const h = await networkHelpers.loadFixture(harness)
      const f = makeFragment(5 * 256, `tamper:${what}`)
      const proof = tamper(createProof(f.data, f.levels, 3), what)
      expect(verifyProof(Buffer.from(f.root.slice(2), 'hex'), 5 * 256, proof)).to.equal(false)
      expect(await h.verify(f.root, 5, 3, packProofs([proof]))).to.equal(false)
    })
  }

  it('rejects a proof presented for another index, root or a truncated path in both', async function () {
    const h = await networkHelpers.loadFixture(harness)
    const f = makeFragment(4 * 256, 'wrong-index')
    const other = makeFragment(4 * 256, 'other')
    const proof = createProof(f.data, f.levels, 1)
    const root = Buffer.from(f.root.slice(2), 'hex')
    expect(verifyProof(root, 4 * 256, { ...proof, index: 2 })).to.equal(false)
    expect(await h.verify(f.root, 4, 2, packProofs([proof]))).to.equal(false)
    expect(await h.verify(other.root, 4, 1, packProofs([proof]))).to.equal(false)
    const short = { ...proof, path: proof.path.slice(0, -1) }
    expect(verifyProof(root, 4 * 256, short)).to.equal(false)
    expect(await h.verify(f.root, 4, 1, packProofs([short]))).to.equal(false)
  })

  it('verifies a 64 MiB-fragment-depth proof (18 levels) built by the node', async function () {
    const h = await networkHelpers.loadFixture(harness)
    const segments = 2 ** 18
    const f = makeFragment(segments * 256, 'big')
    const proof = createProof(f.data, f.levels, 123_457)
    expect(proof.path.length).to.equal(18)
    expect(await h.verify(f.root, segments, 123_457, packProofs([proof]))).to.equal(true)
    expect(await h.verify(toHex(new Uint8Array(32).fill(1)), segments, 123_457, packProofs([proof]))).to.equal(false)
  })
})
