import { expect } from 'chai'
import { AbiCoder, keccak256 } from 'ethers'
import {
  InvalidChallengeInputError, MAX_SLOTS, dealIdOf, fillSegment, packProofs, packedSampleLength, periodSampleRandom, periodSamples, sampleSegment, slotIdOf, slotRefOf, targetedSegment, toHex,
} from '../../../node/proofs/challenge.ts'
import { buildLevels, createProof, hashLeaves } from '../../../node/proofs/merkle.ts'

const abi = AbiCoder.defaultAbiCoder()
const supplier = '0x' + 'ab'.repeat(20)
const seed = '0x' + '5e'.repeat(32)
const deal = '0x' + 'de'.repeat(31) + '00'

describe('proofs/challenge', function () {
  it('encodes like abi.encode + keccak256 (checked against ethers)', function () {
    const hashed = keccak256(abi.encode(['address', 'bytes32'], [supplier, seed]))
    expect(toHex(dealIdOf(supplier, seed))).to.equal(hashed.slice(0, 64) + '00')
    expect(toHex(slotIdOf(deal, 9))).to.equal(deal.slice(0, 64) + '09')
    const r = BigInt(keccak256(abi.encode(['bytes32', 'address', 'uint256', 'uint256'], [seed, supplier, 77, 1])))
    expect(periodSampleRandom(seed, supplier, 77n, 1)).to.equal(r)
    expect(sampleSegment(r, 1000)).to.equal(Number((r >> 128n) % 1000n))
    const f = BigInt(keccak256(abi.encode(['bytes32', 'address', 'bytes32', 'uint256'], [seed, supplier, deal, 3])))
    expect(fillSegment(seed, supplier, deal, 3, 4096)).to.equal(Number(f % 4096n))
    const sid = toHex(slotIdOf(deal, 3))
    const t = BigInt(keccak256(abi.encode(['bytes32', 'bytes32', 'uint256', 'address'], [seed, sid, 1234, supplier])))
    expect(targetedSegment(seed, sid, 1234, supplier, 262144)).to.equal(Number(t % 262144n))
  })

  it('reads a slot id back into its deal and index', function () {
    const id = toHex(dealIdOf(supplier, seed))
    for (const index of [0, 1, 7, 254]) {
      expect(slotRefOf(slotIdOf(id, index))).to.deep.equal({ dealId: id, index })
      expect(slotRefOf(toHex(slotIdOf(id, index)))).to.deep.equal({ dealId: id, index })
    }
    expect(MAX_SLOTS).to.equal(255)
    expect(() => slotIdOf(id, 255)).to.throw(InvalidChallengeInputError, /0-254/)
    expect(() => slotIdOf('0x' + 'de'.repeat(32), 0)).to.throw(InvalidChallengeInputError, /low byte/)
    expect(() => slotRefOf('0x12')).to.throw(InvalidChallengeInputError)
  })

  it('draws positions inside the set, one per sample, in order', function () {
    const samples = periodSamples(seed, supplier, 5, 4, 1000)
    expect(samples.map((s) => s.sample)).to.deep.equal([0, 1, 2, 3])
    for (const s of samples) {
      expect(s.position).to.be.within(0, 999)
      expect(s.position).to.equal(Number(periodSampleRandom(seed, supplier, 5, s.sample) % 1000n))
    }
  })

  it('packs segment then siblings, per sample', function () {
    const data = new Uint8Array(5 * 256).map((_, i) => i & 255)
    const levels = buildLevels(hashLeaves(data))
    const a = createProof(data, levels, 4)
    const b = createProof(data, levels, 1)
    const packed = packProofs([a, b])
    expect(packed.length).to.equal(2 * packedSampleLength(5))
    expect(packedSampleLength(5)).to.equal(256 + 3 * 32)
    expect(Buffer.from(packed.subarray(0, 256)).equals(Buffer.from(a.segment))).to.equal(true)
    expect(Buffer.from(packed.subarray(256, 288)).equals(Buffer.from(a.path[0] as Uint8Array))).to.equal(true)
    expect(Buffer.from(packed.subarray(352, 608)).equals(Buffer.from(b.segment))).to.equal(true)
  })

  it('rejects malformed inputs with InvalidChallengeInputError', function () {
    expect(() => dealIdOf('0x1234', seed)).to.throw(InvalidChallengeInputError)
    expect(() => periodSampleRandom('0xzz', supplier, 1, 0)).to.throw(InvalidChallengeInputError)
    expect(() => periodSamples(seed, supplier, 1, 2, 0)).to.throw(InvalidChallengeInputError)
    expect(() => sampleSegment(1n, 0)).to.throw(InvalidChallengeInputError)
    expect(() => slotIdOf(deal, -1)).to.throw(InvalidChallengeInputError)
    expect(() => packProofs([{ index: 0, segment: new Uint8Array(10), path: [] }])).to.throw(InvalidChallengeInputError)
  })
})
