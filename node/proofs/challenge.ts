/**
 * Challenge derivation and proof packing, mirroring contracts/market/Market.sol exactly
 * (test/node/proofs/challenge.test.ts checks the pure parts, test/contracts/challenge-agreement.test.ts
 * proves the two agree on the simulated chain).
 *
 *   period sample j:   r = uint256(keccak256(abi.encode(seed, supplier, period, j)))
 *                      slot = slotsOf(supplier)[r % setSize], segment = (r >> 128) % segments(slot)
 *   fill proof:        segment = uint256(keccak256(abi.encode(blockhash(seedBlock), supplier, dealId, index))) % segments
 *   targeted:          segment = uint256(keccak256(abi.encode(blockhash(issuedBlock - 1), slotId, issuedBlock, holder))) % segments
 *   ids:               dealId = keccak256(abi.encode(consumer, salt)) with its low byte 0, slotId = dealId | index
 *
 * A packed proof is, per sample, the 256-byte segment followed by depth 32-byte siblings bottom-up.
 * keccak here is @noble/hashes: a handful of 128-byte hashes per period, never Merkle nodes.
 */
import { keccak_256 as keccak256 } from '@noble/hashes/sha3.js'
import { SEGMENT_SIZE } from './constants.ts'
import { treeDepth } from './merkle.ts'
import type { MerkleProof } from './merkle.ts'

/** 32-byte values and 20-byte addresses as bytes or 0x-prefixed hex. */
export type BytesLike = Uint8Array | string

export class InvalidChallengeInputError extends Error {
  override name = 'InvalidChallengeInputError'
}

export interface PeriodSample {
  /** Sample number j (0-based), the order the proofs must be packed in. */
  sample: number
  /** Position in the supplier's on-chain slot set (Market.slotAt). */
  position: number
  /** The full 256-bit draw; the segment is sampleSegment(r, segments of that slot). */
  r: bigint
}

function toBytes (value: BytesLike, size: number, what: string): Uint8Array {
  let bytes: Uint8Array
  if (typeof value === 'string') {
    const hex = value.startsWith('0x') ? value.slice(2) : value
    if (hex.length !== size * 2 || !/^[0-9a-fA-F]*$/.test(hex)) {
      throw new InvalidChallengeInputError(`${what} must be ${size} bytes of hex, got "${value}"`)
    }
    bytes = Uint8Array.from(Buffer.from(hex, 'hex'))
  } else {
    bytes = value
  }
  if (bytes.length !== size) throw new InvalidChallengeInputError(`${what} must be ${size} bytes, got ${bytes.length}`)
  return bytes
}

function word (value: bigint | number, what: string): Uint8Array {
  const v = BigInt(value)
  if (v < 0n || v >= 1n << 256n) throw new InvalidChallengeInputError(`${what} must fit in uint256, got ${v}`)
  return Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'))
}

function addressWord (address: BytesLike): Uint8Array {
  const out = new Uint8Array(32)
  out.set(toBytes(address, 20, 'address'), 12)
  return out
}

function encode (...words: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(words.length * 32)
  words.forEach((w, i) => { out.set(w, i * 32) })
  return out
}

function toBigInt (bytes: Uint8Array): bigint {
  return BigInt('0x' + Buffer.from(bytes).toString('hex'))
}

function checkSegments (segments: number): bigint {
  if (!Number.isSafeInteger(segments) || segments <= 0) throw new InvalidChallengeInputError(`segment count must be a positive integer, got ${segments}`)
  return BigInt(segments)
}

export function toHex (bytes: Uint8Array): `0x${string}` {
  return `0x${Buffer.from(bytes).toString('hex')}`
}

/** Slots per deal: a slot's index is the low byte of its id. */
export const MAX_SLOTS = 255

/** keccak256(abi.encode(consumer, salt)) with its low byte cleared, which a slot id fills with its index. */
export function dealIdOf (consumer: BytesLike, salt: BytesLike): Uint8Array {
  const id = keccak256(encode(addressWord(consumer), toBytes(salt, 32, 'salt')))
  id[31] = 0
  return id
}

/** dealId | index: the deal and the index can be read back from it (slotRefOf). */
export function slotIdOf (dealId: BytesLike, index: number | bigint): Uint8Array {
  const id = Uint8Array.from(toBytes(dealId, 32, 'dealId'))
  const i = BigInt(index)
  if (i < 0n || i >= BigInt(MAX_SLOTS)) throw new InvalidChallengeInputError(`slot index must be 0-${MAX_SLOTS - 1}, got ${i}`)
  if (id[31] !== 0) throw new InvalidChallengeInputError(`not a deal id (its low byte must be 0): ${toHex(id)}`)
  id[31] = Number(i)
  return id
}

/** The deal and index a slot id names. */
export function slotRefOf (slotId: BytesLike): { dealId: `0x${string}`, index: number } {
  const id = Uint8Array.from(toBytes(slotId, 32, 'slotId'))
  const index = id[31]!
  id[31] = 0
  return { dealId: toHex(id), index }
}

/** The draw r of sample j of a period proof. */
export function periodSampleRandom (seed: BytesLike, supplier: BytesLike, period: number | bigint, sample: number | bigint): bigint {
  return toBigInt(keccak256(encode(toBytes(seed, 32, 'seed'), addressWord(supplier), word(period, 'period'), word(sample, 'sample'))))
}

/** The slot-set positions every sample of a period proof lands on. */
export function periodSamples (seed: BytesLike, supplier: BytesLike, period: number | bigint, samples: number, setSize: number): PeriodSample[] {
  if (!Number.isSafeInteger(setSize) || setSize <= 0) throw new InvalidChallengeInputError(`slot set size must be a positive integer, got ${setSize}`)
  const out: PeriodSample[] = []
  for (let j = 0; j < samples; j++) {
    const r = periodSampleRandom(seed, supplier, period, j)
    out.push({ sample: j, position: Number(r % BigInt(setSize)), r })
  }
  return out
}

/** (r >> 128) % segments: the segment a period sample asks for in the slot it landed on. */
export function sampleSegment (r: bigint, segments: number): number {
  return Number((r >> 128n) % checkSegments(segments))
}

/** Segment a fill proof must reveal (seedHash = blockhash of the block the supplier names). */
export function fillSegment (seedHash: BytesLike, supplier: BytesLike, dealId: BytesLike, index: number | bigint, segments: number): number {
  const r = toBigInt(keccak256(encode(toBytes(seedHash, 32, 'seed'), addressWord(supplier), toBytes(dealId, 32, 'dealId'), word(index, 'slot index'))))
  return Number(r % checkSegments(segments))
}

/** Segment a targeted challenge asks for (prevBlockHash = blockhash(issuedBlock - 1)). */
export function targetedSegment (prevBlockHash: BytesLike, slotId: BytesLike, issuedBlock: number | bigint, holder: BytesLike, segments: number): number {
  const r = toBigInt(keccak256(encode(toBytes(prevBlockHash, 32, 'seed'), toBytes(slotId, 32, 'slotId'), word(issuedBlock, 'issued block'), addressWord(holder))))
  return Number(r % checkSegments(segments))
}

/** Bytes of one packed sample for a fragment of `segments` segments. */
export function packedSampleLength (segments: number): number {
  return SEGMENT_SIZE + treeDepth(segments) * 32
}

/** Packs proofs in order: segment || siblings, for each. */
export function packProofs (proofs: MerkleProof[]): Uint8Array {
  const total = proofs.reduce((n, p) => n + p.segment.length + 32 * p.path.length, 0)
  const out = new Uint8Array(total)
  let at = 0
  for (const p of proofs) {
    if (p.segment.length !== SEGMENT_SIZE) throw new InvalidChallengeInputError(`a segment must be ${SEGMENT_SIZE} bytes, got ${p.segment.length}`)
    out.set(p.segment, at)
    at += SEGMENT_SIZE
    for (const sibling of p.path) {
      out.set(toBytes(sibling, 32, 'sibling'), at)
      at += 32
    }
  }
  return out
}
