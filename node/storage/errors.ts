export { NotEnoughFragmentsError } from '../erasure/errors.ts'

/** A fragment whose bytes do not hash to the root it should have. */
export class RootMismatchError extends Error {
  override name = 'RootMismatchError'
  constructor (what: string) {
    super(`${what} does not hash to its expected Merkle root: it is damaged or not the fragment that was agreed. It was not stored.`)
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

export class InvalidFragmentError extends Error {
  override name = 'InvalidFragmentError'
}
