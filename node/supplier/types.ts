/**
 * What the supplier needs from the rest of the node, as narrow interfaces: the chain facade, the
 * fragment store and the peer network each implement one of these (tests hand in fakes).
 */
import type { Address, Hex } from 'viem'

export interface SlotRef { dealId: Hex, index: number }

export interface Schedule { genesisBlock: bigint, periodBlocks: bigint, proofWindow: bigint, challengeWindow: bigint }

export interface SupplierChain {
  readonly address: Address
  blockNumber: () => Promise<bigint>
  /**
   * The market's clock, fixed at deployment: period p starts at genesisBlock + p * periodBlocks,
   * and its proofs are accepted in blocks start+1 … start+proofWindow; a targeted challenge is
   * answered within challengeWindow blocks. Read from the chain once (cheap to call again).
   */
  schedule: () => Promise<Schedule>
  /**
   * The slots this supplier holds, and the first period it must prove: the one after the period
   * in which it took its first slot (a slot taken mid-period is not sampled for that period);
   * and the last period it proved, if any (read with them: no second call to tell a period done).
   */
  obligation: () => Promise<{ slots: number, from: bigint, lastProven?: bigint }>
  /** The samples the contract will check for this supplier in this period. */
  periodSamples: (period: bigint) => Promise<Array<{ slotId: Hex, segment: number }>>
  provePeriod: (period: bigint, proof: Uint8Array) => Promise<void>
  fillSegment: (slot: SlotRef, seedBlock: bigint) => Promise<number>
  fillSlot: (slot: SlotRef, seedBlock: bigint, proof: Uint8Array) => Promise<void>
  /** Challenges on our slots still open at `head` (read from the chain if not given): slot and the segment asked for. */
  openChallenges: (head?: bigint) => Promise<Array<SlotRef & { segment: number, deadlineBlock: bigint }>>
  answerChallenge: (slot: SlotRef, proof: Uint8Array) => Promise<void>
  slotId: (slot: SlotRef) => Hex
}

/** The fragment store, seen from the supplier. */
export interface SupplierStore {
  /** Packed proof for one segment: the segment then its siblings bottom-up. */
  proof: (slot: SlotRef, segment: number) => Promise<Uint8Array>
  has: (slot: SlotRef) => Promise<boolean>
}
