/**
 * What the fragment protocols need from the supplier's store (node/storage implements it).
 * The backend, not the protocol, owns quota and the Merkle check: it sees the bytes as they go to
 * disk, and it alone knows what it already holds.
 */
import type { AbortOptions } from '@libp2p/interface'

export interface FragmentMeta {
  /** bytes32, 0x-hex lowercase. */
  dealId: string
  slot: number
  /** Bytes; a non-zero multiple of the proof segment size. */
  size: number
  /**
   * Merkle root (bytes32, 0x-hex lowercase) of the fragment under the proof convention; ROOT_LATER
   * on a put whose root the consumer confirms after the transfer (AcceptOptions.confirm).
   */
  root: string
  /** Chain address (0x-hex lowercase) of the consumer that owns the deal. */
  owner: string
}

export interface MerklePath {
  index: number
  path: Uint8Array[]
}

export interface AcceptOptions extends AbortOptions {
  /**
   * For meta.root = ROOT_LATER: called with the root of the bytes once they are all in and hashed,
   * before anything is kept. The fragment is kept, under that root, only if this resolves.
   */
  confirm?: (root: string) => Promise<void>
}

export interface ReadOptions extends AbortOptions {
  /** The caller hands every piece straight to the network and never reads it again. */
  lend?: boolean
}

export interface FragmentBackend {
  /**
   * Throws QuotaExceededError / FragmentExistsError / NotAcceptingError before any byte is sent.
   * Optional: without it, only `accept` checks.
   */
  check?: (meta: FragmentMeta, options?: AbortOptions) => Promise<void>
  /**
   * Streams `data` (exactly meta.size bytes) to storage and keeps it only if its Merkle root is
   * meta.root (or options.confirm accepts it); otherwise throws FragmentRootMismatchError (or
   * QuotaExceededError, FragmentSizeMismatchError) and leaves nothing behind. Aborting `signal`
   * also leaves nothing.
   */
  accept: (meta: FragmentMeta, data: AsyncIterable<Uint8Array>, options?: AcceptOptions) => Promise<FragmentMeta>
  /** Metadata of a stored fragment, or FragmentNotFoundError. */
  stat: (dealId: string, slot: number, options?: AbortOptions) => Promise<FragmentMeta>
  /**
   * Bytes [offset, offset + length) of a stored fragment. With `lend`, the caller only sends
   * each piece over the network and never touches it again, so the backend may lend its own
   * buffers (util/lent-buffers.ts) instead of copying into new ones.
   */
  read: (dealId: string, slot: number, offset: number, length: number, options?: ReadOptions) => AsyncIterable<Uint8Array>
  /** Sibling paths for segments [first, first + count); optional, needed for proven ranged reads. */
  paths?: (dealId: string, slot: number, first: number, count: number, options?: AbortOptions) => Promise<Uint8Array[][]>
  /** What this supplier holds for an owner. */
  list: (owner: string, options?: AbortOptions) => Promise<FragmentMeta[]>
}
