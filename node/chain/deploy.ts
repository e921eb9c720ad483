/**
 * Deploys Token → Staking → Market, wires Staking to the Market, and returns the addresses and the
 * first block to scan for events. Constructor arguments are matched to the ABI's parameter names,
 * so a renamed or reordered constructor fails with a message naming the parameter, not silently.
 */
import type { Abi, AbiParameter, Account, Address, Chain, PublicClient, Transport, WalletClient } from 'viem'
import { getAddress, zeroAddress } from 'viem'
import { log } from '../log.ts'
import { findDeployable, loadAll } from './artifacts.ts'
import type { Artifact, ArtifactOptions } from './artifacts.ts'
import type { DeployParams } from './deploy-params.ts'
import { DeployError } from './errors.ts'
import { TxSender } from './tx.ts'
import type { SendOptions } from './tx.ts'

const debug = log('chain:deploy')

export interface BitDustAddresses {
  token: Address
  staking: Address
  market: Address
}

export interface Deployment {
  chainId: number
  contracts: BitDustAddresses
  /** Block of the first deployment transaction: event scans start here. */
  deployBlock: number
}

export type DeployProgress = { type: 'deploy:contract', name: string, address: Address } | { type: 'deploy:wired', what: string }

export interface DeployOptions extends Omit<SendOptions, 'onProgress'>, ArtifactOptions {
  onProgress?: (event: DeployProgress) => void
  /** Contract names when a folder holds several deployable contracts. */
  names?: { token?: string, staking?: string, market?: string }
}

export interface DeployInit {
  walletClient: WalletClient<Transport, Chain, Account>
  publicClient: PublicClient<Transport, Chain>
  params: DeployParams
}

const norm = (name: string): string => name.replace(/^_+|_+$/g, '').toLowerCase()

/** Values for constructor parameters, by normalized name. */
function argSource (deployer: Address, params: DeployParams, addresses: Partial<BitDustAddresses>): Map<string, unknown> {
  const config = { ...params.market, treasury: params.market.treasury ?? deployer }
  const m = new Map<string, unknown>()
  for (const [k, v] of Object.entries(config)) m.set(norm(k), v)
  const set = (names: string[], v: unknown): void => { for (const n of names) m.set(n, v) }
  set(['token', 'tokenaddress', 'dust', 'stakingtoken', 'paymenttoken'], addresses.token)
  set(['staking', 'stakingaddress'], addresses.staking)
  set(['market', 'marketaddress'], addresses.market)
  set(['owner', 'initialowner', 'admin', 'deployer', 'minter', 'recipient', 'initialholder'], deployer)
  set(['faucetamount', 'faucet', 'faucetdrip'], params.token.faucetAmount)
  set(['initialsupply', 'supply', 'initialmint'], params.token.initialSupply)
  set(['unbondingblocks', 'unbonding', 'unbondingdelay'], params.staking.unbondingBlocks)
  set(['config', 'cfg', 'c', 'params', 'marketconfig'], config)
  set(['name'], 'BitDust')
  set(['symbol'], 'DUST')
  return m
}

function constructorArgs (artifact: Artifact, values: Map<string, unknown>): unknown[] {
  const ctor = artifact.abi.find((i) => i.type === 'constructor')
  if (ctor === undefined) return []
  return (ctor.inputs as readonly AbiParameter[]).map((input, i) => {
    const name = norm(input.name ?? '')
    const value = values.get(name)
    if (value === undefined) {
      throw new DeployError(`Cannot deploy ${artifact.contractName}: no value for constructor parameter #${i} "${input.name ?? ''}" (${input.type}); update node/chain/deploy.ts to docs/contracts.md`)
    }
    return value
  })
}

function hasFunction (abi: Abi, name: string): boolean {
  return abi.some((i) => i.type === 'function' && i.name === name)
}

export async function deployBitDust (init: DeployInit, options: DeployOptions = {}): Promise<Deployment> {
  const { walletClient, publicClient, params } = init
  const artifacts = {
    token: findDeployable('token', options.names?.token !== undefined ? [options.names.token] : ['BitDustToken', 'Token'], options),
    staking: findDeployable('staking', options.names?.staking !== undefined ? [options.names.staking] : ['Staking', 'BitDustStaking'], options),
    market: findDeployable('market', options.names?.market !== undefined ? [options.names.market] : ['Market', 'BitDustMarket'], options),
  }
  const errorAbis = ['token', 'staking', 'market', 'interfaces', 'libraries'].flatMap((f) => loadAll(f, options).map((a) => a.abi))
  const tx = new TxSender({ publicClient, walletClient }, { errorAbis })
  const deployer = walletClient.account.address
  const addresses: Partial<BitDustAddresses> = {}
  let deployBlock: bigint | undefined
  const send: SendOptions = { signal: options.signal, confirmations: options.confirmations }
  const chainId = await tx.retry('eth_chainId', async () => await publicClient.getChainId(), send)

  for (const key of ['token', 'staking', 'market'] as const) {
    const artifact = artifacts[key]
    const args = constructorArgs(artifact, argSource(deployer, params, addresses))
    const { address, receipt } = await tx.deploy({ abi: artifact.abi, bytecode: artifact.bytecode, args, name: artifact.contractName }, send)
    addresses[key] = getAddress(address)
    deployBlock ??= receipt.blockNumber
    debug('deployed %s at %s (block %d)', artifact.contractName, address, receipt.blockNumber)
    options.onProgress?.({ type: 'deploy:contract', name: artifact.contractName, address })
  }
  const contracts = addresses as BitDustAddresses

  // Wiring: whichever of the contracts takes the market after the fact (Staking does).
  for (const key of ['token', 'staking'] as const) {
    const abi = artifacts[key].abi
    if (!hasFunction(abi, 'setMarket')) continue
    if (hasFunction(abi, 'market')) {
      const current = await tx.read<Address>({ address: contracts[key], abi, functionName: 'market' }, send)
      if (current !== zeroAddress) continue
    }
    await tx.write({ address: contracts[key], abi, functionName: 'setMarket', args: [contracts.market] }, send)
    options.onProgress?.({ type: 'deploy:wired', what: `${artifacts[key].contractName}.setMarket` })
  }
  return { chainId, contracts, deployBlock: Number(deployBlock ?? 0n) }
}

export interface FundInit {
  walletClient: WalletClient<Transport, Chain, Account>
  publicClient: PublicClient<Transport, Chain>
  /** Token address; the signer must be the token's owner (the deployer) to mint. */
  token: Address
  accounts: Address[]
  /** Wei sent to each account (for gas). */
  eth?: bigint
  /** Tokens minted to each account. */
  tokens?: bigint
}

/** Devnet helper: gives each account ether for gas and freshly minted tokens. */
export async function fundAccounts (init: FundInit, options: SendOptions & ArtifactOptions = {}): Promise<void> {
  const tokenAbi = findDeployable('token', ['BitDustToken', 'Token'], options).abi
  const tx = new TxSender({ publicClient: init.publicClient, walletClient: init.walletClient }, { errorAbis: [tokenAbi] })
  const send: SendOptions = { signal: options.signal, confirmations: options.confirmations }
  for (const account of init.accounts) {
    if ((init.eth ?? 0n) > 0n) await tx.sendRaw({ to: account, data: '0x', value: init.eth, abi: [], what: `fund ${account} with ether` }, send)
    if ((init.tokens ?? 0n) > 0n) await tx.write({ address: init.token, abi: tokenAbi, functionName: 'mint', args: [account, init.tokens] }, send)
  }
}
