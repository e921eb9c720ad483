/**
 * Sealed manifests travel with the deal they describe: each holder keeps the owner's sealed
 * manifest as an extra fragment in the reserved slot MANIFEST_SLOT of the deal (padded to whole
 * proof segments), checked against its Merkle root like any fragment, counted in the supplier's
 * quota and dropped with the deal. A restored identity finds its deals on chain and asks their
 * holders for this slot; only the owner (or a contact with a grant) can open it.
 */
import { SEGMENT_SIZE } from '../proofs/constants.ts'
import { merkleRoot } from '../proofs/merkle.ts'
import { MAX_MANIFEST_BYTES } from '../storage/manifest.ts'

/** The slot number no deal uses (deals have at most 30 slots; the wire allows up to 1023). */
export const MANIFEST_SLOT = 1023

export class InvalidManifestBlobError extends Error {
  override name = 'InvalidManifestBlobError'
}

/** 4-byte big-endian length, the sealed bytes, zero padding to a whole number of segments. */
export function padManifest (sealed: Uint8Array): { bytes: Uint8Array, root: Uint8Array } {
  if (sealed.length > MAX_MANIFEST_BYTES + 1024) throw new InvalidManifestBlobError('the sealed manifest is too large')
  const size = Math.ceil((sealed.length + 4) / SEGMENT_SIZE) * SEGMENT_SIZE
  const bytes = new Uint8Array(size)
  new DataView(bytes.buffer).setUint32(0, sealed.length)
  bytes.set(sealed, 4)
  return { bytes, root: merkleRoot(bytes) }
}

export function unpadManifest (bytes: Uint8Array): Uint8Array {
  if (bytes.length < 4) throw new InvalidManifestBlobError('the manifest blob is truncated')
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0)
  if (n + 4 > bytes.length) throw new InvalidManifestBlobError('the manifest blob is shorter than it says')
  return bytes.subarray(4, 4 + n)
}
