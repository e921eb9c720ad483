/**
 * The supplier's fragment store: fragments as files under `<datadir>/fragments/` with their
 * Merkle trees beside them, metadata in the node's one Level database, a quota of donated bytes.
 * It implements the fragment protocol's backend (node/p2p/fragments/backend.ts) structurally.
 */
import type { AbortOptions, Startable } from '@libp2p/interface'
import type { ReadFn, WriteFn } from '../fragment-files.ts'
import type { MerkleProof } from '../../proofs/merkle.ts'
import { DiskFragmentStore } from './store.ts'

export interface FragmentMeta {
  /** bytes32, 0x-hex lowercase. */
  dealId: string
  slot: number
  /** Bytes; a non-zero multiple of SEGMENT_SIZE. */
  size: number
  /** Merkle root, bytes32 0x-hex lowercase. */
  root: string
  /** Chain address of the consumer that owns the deal (0x-hex lowercase). */
  owner: string
}

export interface StoredFragment extends FragmentMeta {
  /** Milliseconds since the epoch. */
  storedAt: number
}

/** What the store needs of the database: Level<string, string> or a sublevel of it. */
export interface MetaDb {
  get: (key: string) => Promise<string | undefined>
  put: (key: string, value: string) => Promise<void>
  del: (key: string) => Promise<void>
  values: (options?: { gte?: string, lt?: string }) => AsyncIterable<string>
}


export interface FragmentStoreInit {
  /** Directory of fragment files (`<datadir>/fragments`). */
  dir: string
  /** Donated bytes (fragments plus their tree files). Default DEFAULT_QUOTA. */
  quota?: bigint | number
  /** fsync before rename (default true). */
  durable?: boolean
  /** Write fragment data with O_DIRECT where the directory's filesystem takes it (default true). */
  directIo?: boolean
  /** Replaces FileHandle.write for fragment data: tests inject ENOSPC and EINVAL. */
  write?: WriteFn
  /** Replaces FileHandle.read for whole-fragment reads: tests inject EINVAL. */
  read?: ReadFn
}

export interface FragmentStoreComponents {
  db: MetaDb
}

export type PutProgressEvent = { type: 'fragment:received', bytes: number, total: number }

export interface ReadOptions extends AbortOptions {
  /** The caller only hands each piece to the network and never reads it again. */
  lend?: boolean
}

export interface PutOptions extends AbortOptions {
  onProgress?: (event: PutProgressEvent) => void
  /**
   * Required when meta.root is ROOT_LATER: called with the root of the bytes once all are in and
   * hashed, before the fragment is kept; it is kept under that root only if this resolves.
   */
  confirm?: (root: string) => Promise<void>
}

export interface FragmentStore extends Startable {
  /** Throws QuotaExceededError / FragmentExistsError / InvalidFragmentError before any byte moves. */
  check: (meta: FragmentMeta, options?: AbortOptions) => Promise<void>
  /**
   * Streams exactly meta.size bytes to a temp file while hashing them, fsyncs, and makes the
   * fragment visible (rename) only if its root is meta.root. Otherwise throws
   * FragmentRootMismatchError, FragmentSizeMismatchError, QuotaExceededError or DiskFullError,
   * leaving nothing behind.
   */
  accept: (meta: FragmentMeta, data: AsyncIterable<Uint8Array>, options?: PutOptions) => Promise<StoredFragment>
  /** Alias of accept. */
  put: (meta: FragmentMeta, data: AsyncIterable<Uint8Array>, options?: PutOptions) => Promise<StoredFragment>
  stat: (dealId: string, slot: number, options?: AbortOptions) => Promise<StoredFragment>
  has: (dealId: string, slot: number) => Promise<boolean>
  /**
   * Bytes [offset, offset + length), each 16 KiB block checked against the stored tree. With
   * `lend`, pieces are the store's own aligned buffers, lent until the network has copied them
   * (util/lent-buffers.ts): the caller must hand them on and never read them again.
   */
  read: (dealId: string, slot: number, offset: number, length: number, options?: ReadOptions) => AsyncIterable<Uint8Array>
  /** A Merkle proof for one segment from the stored tree (no full rehash). */
  proof: (dealId: string, slot: number, segmentIndex: number, options?: AbortOptions) => Promise<MerkleProof>
  /** Sibling paths for segments [first, first + count). */
  paths: (dealId: string, slot: number, first: number, count: number, options?: AbortOptions) => Promise<Uint8Array[][]>
  /** Fragments held (for one owner if given). */
  list: (owner?: string, options?: AbortOptions) => Promise<StoredFragment[]>
  delete: (dealId: string, slot: number, options?: AbortOptions) => Promise<boolean>
  /** Deletes every fragment whose deal ended; returns what was removed. */
  gc: (isDealEnded: (dealId: string) => boolean | Promise<boolean>, options?: AbortOptions) => Promise<StoredFragment[]>
  /** Bytes used (fragments + trees + writes in progress) and the quota. */
  usage: () => { used: number, quota: number }
  /** A new quota (bytes); fragments already held stay, even above it. */
  setQuota: (bytes: number) => void
}

export function fragmentStore (init: FragmentStoreInit): (components: FragmentStoreComponents) => FragmentStore {
  return (components) => new DiskFragmentStore(init, components)
}

export { DiskFragmentStore }
