/** What the token, staking and market parts of the client share. */
import { toHex } from 'viem'
import type { Abi, Account, Address, Hex } from 'viem'
import type { BitDustAddresses } from './deploy.ts'
import type { TxSender } from './tx.ts'

export interface ChainContext {
  tx: TxSender
  contracts: BitDustAddresses
  abis: { token: Abi, staking: Abi, market: Abi }
  /** The signer; undefined on a read-only connection. */
  account: Account | undefined
}

export function signer (ctx: ChainContext): Account {
  if (ctx.account === undefined) throw new Error('This chain connection is read-only: give it a private key to send transactions')
  return ctx.account
}

export function self (ctx: ChainContext, who?: Address): Address {
  return who ?? signer(ctx).address
}

export function bytes (b: Hex | Uint8Array): Hex {
  return typeof b === 'string' ? b : toHex(b)
}
