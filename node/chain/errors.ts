/**
 * One error class per condition, each with a stable `name` (callers and tests match on it) and a
 * message that tells a person what to do.
 */

export class ArtifactMissingError extends Error {
  override name = 'ArtifactMissingError'
  constructor (contract: string, dir: string) {
    super(`No compiled artifact for contract ${contract} in ${dir}: run \`npx hardhat compile\` (or \`npm run compile\`) in the repository first`)
  }
}

export class CompileFailedError extends Error {
  override name = 'CompileFailedError'
  constructor (output: string) {
    super(`\`npx hardhat compile\` failed; fix the contracts and try again:\n${output.trim().slice(-2000)}`)
  }
}

export class ContractRevertError extends Error {
  override name = 'ContractRevertError'
  /** Name of the custom error (e.g. `MarketSlotNotFree`), `Error` for require strings, `Panic` for panics, or `unknown`. */
  readonly errorName: string
  readonly args: readonly unknown[]
  /** Contract function that reverted. */
  readonly functionName: string
  /** Set when the transaction was mined (and paid for) before it reverted; unset when simulation caught it. */
  transactionHash: string | undefined
  constructor (errorName: string, args: readonly unknown[], functionName: string, sentence: string) {
    super(`${functionName} was rejected by the contract: ${sentence} (${errorName}${args.length > 0 ? `(${args.map(String).join(', ')})` : ''})`)
    this.errorName = errorName
    this.args = args
    this.functionName = functionName
  }
}

export class InsufficientFundsError extends Error {
  override name = 'InsufficientFundsError'
  constructor (account: string, what: string) {
    super(`Account ${account} has not enough ether to pay the gas for ${what}: fund it with ETH on this chain (on the devnet, \`bitdust faucet\`) and retry`)
  }
}

/** An endpoint URL as errors show it: without the credentials it may carry (user:secret@). */
export function shownUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.username === '' && u.password === '') return url
    u.username = ''
    u.password = ''
    return u.toString()
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//')
  }
}

export class RpcUnavailableError extends Error {
  override name = 'RpcUnavailableError'
  constructor (url: string, cause?: unknown) {
    super(`The chain's JSON-RPC endpoint ${shownUrl(url)} cannot be reached: check that the chain is running and the network profile's rpcUrl is right`, { cause })
  }
}

export class TransactionFailedError extends Error {
  override name = 'TransactionFailedError'
  readonly hash: string
  constructor (hash: string, what: string) {
    super(`Transaction ${hash} (${what}) was mined but reverted; its state changes were undone. Check the account's state and retry`)
    this.hash = hash
  }
}

export class TransactionTimeoutError extends Error {
  override name = 'TransactionTimeoutError'
  readonly hash: string
  constructor (hash: string, ms: number) {
    super(`Transaction ${hash} was not mined within ${Math.round(ms / 1000)} s: the chain may be stalled or the gas price too low; check the endpoint and retry`)
    this.hash = hash
  }
}

export class WrongChainError extends Error {
  override name = 'WrongChainError'
  constructor (expected: number, actual: number, url: string) {
    super(`The endpoint ${shownUrl(url)} serves chain id ${actual}, but the network profile expects ${expected}: fix rpcUrl or chainId in the profile`)
  }
}

export class NoContractError extends Error {
  override name = 'NoContractError'
  constructor (what: string, address: string) {
    super(`No ${what} contract is deployed at ${address} on this chain: deploy with \`npm run deploy\` and update the network profile's contract addresses`)
  }
}

export class ContractsMismatchError extends Error {
  override name = 'ContractsMismatchError'
  constructor (what: string, expected: string, actual: string) {
    super(`The market at this network uses ${what} ${actual}, but the network profile names ${expected}: the profile mixes addresses of different deployments; take all three from one \`npm run deploy\` output`)
  }
}

export class DeployError extends Error {
  override name = 'DeployError'
}
