/** The DUST token: balances, approvals, EIP-2612 permits and the devnet faucet. */
import type { Address, Hex, TransactionReceipt } from 'viem'
import { parseSignature } from 'viem'
import type { ChainContext } from './context.ts'
import { self, signer } from './context.ts'
import type { AbortOptions, SendOptions } from './tx.ts'
import type { Permit } from './types.ts'

const EIP712_DOMAIN_ABI = [{
  type: 'function', name: 'eip712Domain', stateMutability: 'view', inputs: [],
  outputs: [
    { name: 'fields', type: 'bytes1' }, { name: 'name', type: 'string' }, { name: 'version', type: 'string' },
    { name: 'chainId', type: 'uint256' }, { name: 'verifyingContract', type: 'address' }, { name: 'salt', type: 'bytes32' },
    { name: 'extensions', type: 'uint256[]' },
  ],
}] as const

/** Permits are valid this long unless told otherwise. */
const PERMIT_TTL_S = 3600n

export class TokenApi {
  private readonly ctx: ChainContext
  constructor (ctx: ChainContext) { this.ctx = ctx }

  get address (): Address { return this.ctx.contracts.token }

  private async read<T> (functionName: string, args: readonly unknown[] = [], options: AbortOptions = {}): Promise<T> {
    return await this.ctx.tx.read<T>({ address: this.address, abi: this.ctx.abis.token, functionName, args }, options)
  }

  private async write (functionName: string, args: readonly unknown[], options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.ctx.tx.write({ address: this.address, abi: this.ctx.abis.token, functionName, args }, options)
  }

  async balanceOf (account?: Address, options: AbortOptions = {}): Promise<bigint> {
    return await this.read('balanceOf', [self(this.ctx, account)], options)
  }

  async totalSupply (options: AbortOptions = {}): Promise<bigint> {
    return await this.read('totalSupply', [], options)
  }

  async allowance (owner: Address, spender: Address, options: AbortOptions = {}): Promise<bigint> {
    return await this.read('allowance', [owner, spender], options)
  }

  async approve (spender: Address, amount: bigint, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('approve', [spender, amount], options)
  }

  /** Approves `amount` only if the current allowance is lower. */
  async ensureAllowance (spender: Address, amount: bigint, options: SendOptions = {}): Promise<void> {
    const current = await this.allowance(signer(this.ctx).address, spender, options)
    if (current < amount) await this.approve(spender, amount, options)
  }

  async transfer (to: Address, amount: bigint, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('transfer', [to, amount], options)
  }

  /** Owner only. */
  async mint (to: Address, amount: bigint, options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('mint', [to, amount], options)
  }

  /** Devnet: mints faucetAmount() to the signer (TokenFaucetDisabled elsewhere). */
  async faucet (options: SendOptions = {}): Promise<TransactionReceipt> {
    return await this.write('faucet', [], options)
  }

  async faucetAmount (options: AbortOptions = {}): Promise<bigint> {
    return await this.read('faucetAmount', [], options)
  }

  async nonces (owner: Address, options: AbortOptions = {}): Promise<bigint> {
    return await this.read('nonces', [owner], options)
  }

  /** Signs an EIP-2612 permit letting `spender` move `value` of the signer's tokens (no transaction). */
  async signPermit (spender: Address, value: bigint, options: AbortOptions & { deadline?: bigint } = {}): Promise<Permit> {
    const account = signer(this.ctx)
    if (account.signTypedData === undefined) throw new Error('This signer cannot sign typed data: use approve instead of a permit')
    const [domain, nonce, block] = await Promise.all([
      this.ctx.tx.read<readonly [Hex, string, string, bigint, Address, Hex, readonly bigint[]]>({ address: this.address, abi: EIP712_DOMAIN_ABI as never, functionName: 'eip712Domain' }, options),
      this.nonces(account.address, options),
      this.ctx.tx.retry('eth_getBlock', async () => await this.ctx.tx.publicClient.getBlock(), options),
    ])
    const deadline = options.deadline ?? block.timestamp + PERMIT_TTL_S
    const signature = await account.signTypedData({
      domain: { name: domain[1], version: domain[2], chainId: domain[3], verifyingContract: domain[4] },
      types: {
        Permit: [
          { name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' },
          { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' },
        ],
      },
      primaryType: 'Permit',
      message: { owner: account.address, spender, value, nonce, deadline },
    })
    const { r, s, v, yParity } = parseSignature(signature)
    return { value, deadline, r, s, v: Number(v ?? BigInt(yParity + 27)) }
  }
}
