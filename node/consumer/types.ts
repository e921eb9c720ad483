/**
 * What the consumer needs from the rest of the node, as narrow interfaces (tests hand in fakes;
 * node/services.ts adapts the chain facade, the peer network and the data path to them).
 */
import type { Address, Hex } from 'viem'

/** A supplier's signed, verified offer, as the consumer sees it. */
export interface SupplierOffer {
  peerId: string
  address: Address
  /** Bytes it can still take. */
  capacity: bigint
  /** Token base units per byte per period. */
  price: bigint
  /** Free stake (what can back new collateral). */
  stake: bigint
}

export interface DealTerms {
  k: number
  m: number
  fragmentSize: bigint
  periods: number
  price: bigint
  collateralPerByte: bigint
}

export interface PutReceipt { peerId: string, dealId: Hex, slot: number, root: Hex }

export type Progress = (e: { stage: string, done?: number, total?: number, message?: string }) => void

