export class InvalidErasureParamsError extends Error {
  override name = 'InvalidErasureParamsError'
}

/** Fewer than k fragments survived (missing or failing their Merkle root). */
export class NotEnoughFragmentsError extends Error {
  override name = 'NotEnoughFragmentsError'
  readonly good: number
  readonly k: number
  constructor (good: number, k: number, total: number, detail = '') {
    super(`Only ${good} of ${total} fragments are usable but ${k} are needed: ${k - good} more missing. ` +
      `The file cannot be restored until ${k - good} more fragment${k - good === 1 ? '' : 's'} can be fetched${detail !== '' ? ` (${detail})` : ''}.`)
    this.good = good
    this.k = k
  }
}
