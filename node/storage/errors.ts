/**
 * Typed errors of the storage layer. Names match the fragment protocol's wire codes
 * (node/p2p/errors.ts) so a supplier's refusal reaches the consumer as the same error.
 */
export { NotEnoughFragmentsError } from '../erasure/errors.ts'

/** A fragment whose bytes do not hash to the root it should have. */
export class FragmentRootMismatchError extends Error {
  override name = 'FragmentRootMismatchError'
  constructor (what: string) {
    super(`${what} does not hash to its expected Merkle root: it is damaged or not the fragment that was agreed. It was not stored.`)
  }
}
/** The name for FragmentRootMismatchError. */
export { FragmentRootMismatchError as RootMismatchError }

export class FragmentSizeMismatchError extends Error {
  override name = 'FragmentSizeMismatchError'
  constructor (what: string, expected: number, got: string) {
    super(`${what} should be ${expected} bytes but ${got}. It was not stored.`)
  }
}

export class QuotaExceededError extends Error {
  override name = 'QuotaExceededError'
  constructor (needed: number, free: number, quota: number) {
    super(`Storing ${needed} more bytes would exceed the donated space: ${free} of ${quota} bytes are free. Raise the quota or wait for deals to end; nothing was written.`)
  }
}

export class DiskFullError extends Error {
  override name = 'DiskFullError'
  constructor (path: string) {
    super(`The disk holding ${path} is full. Free some space or lower the quota; the partial write was removed.`)
  }
}

export class FragmentNotFoundError extends Error {
  override name = 'FragmentNotFoundError'
  constructor (id: string) {
    super(`No fragment ${id} is stored here.`)
  }
}

export class FragmentExistsError extends Error {
  override name = 'FragmentExistsError'
  constructor (id: string) {
    super(`Fragment ${id} is already stored here.`)
  }
}

export class InvalidFragmentError extends Error {
  override name = 'InvalidFragmentError'
}

/** The file being uploaded changed since the upload began: a later pass would not give the bytes the deal committed to. */
export class FileChangedError extends Error {
  override name = 'FileChangedError'
  constructor (path: string, how: string) {
    super(`${path} changed while it was being uploaded (${how}); its fragments would not match the deal. Upload it again.`)
  }
}
