/**
 * The ABIs the node talks through: the interfaces (stable while implementations change), plus the
 * custom errors of every compiled BitDust contract and library for decoding reverts.
 */
import type { Abi } from 'viem'
import { loadAll, loadArtifact } from './artifacts.ts'
import type { ArtifactOptions } from './artifacts.ts'

export interface BitDustAbis {
  token: Abi
  staking: Abi
  market: Abi
  /** Every error of every compiled BitDust contract (OpenZeppelin's included). */
  errors: Abi[]
}

let cached: BitDustAbis | undefined

export function bitDustAbis (options: ArtifactOptions = {}): BitDustAbis {
  if (cached !== undefined && options.root === undefined) return cached
  const abis: BitDustAbis = {
    token: loadArtifact('IBitDustToken', options).abi,
    staking: loadArtifact('IStaking', options).abi,
    market: loadArtifact('IMarket', options).abi,
    errors: ['token', 'staking', 'market', 'libraries', 'interfaces'].flatMap((f) => loadAll(f, options).map((a) => a.abi)),
  }
  if (options.root === undefined) cached = abis
  return abis
}
