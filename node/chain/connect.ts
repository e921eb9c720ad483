/**
 * viem clients for one endpoint and one signer, over our JSON-RPC transport (rpc-transport.ts:
 * node's http client instead of fetch, ~3x less CPU per call). viem's own transport retries are
 * off: tx.ts retries whole steps (with fresh gas, fees and nonce), which a transport cannot.
 */
import { createPublicClient, createWalletClient, defineChain } from 'viem'
import type { Chain, PublicClient, Transport, WalletClient, Account } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { PrivateKeyAccount } from 'viem/accounts'
import { POLL_INTERVAL_MS } from './constants.ts'
import { rpcTransport } from './rpc-transport.ts'

export interface ConnectInit {
  rpcUrl: string
  chainId: number
  /** 0x-prefixed private key of the signer; omit for a read-only connection. */
  privateKey?: `0x${string}`
  pollIntervalMs?: number
  /** Per-request timeout of the HTTP transport. */
  requestTimeoutMs?: number
}

export interface ChainClients {
  chain: Chain
  rpcUrl: string
  publicClient: PublicClient<Transport, Chain>
  walletClient?: WalletClient<Transport, Chain, Account>
  account?: PrivateKeyAccount
}

export function chainFor (chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: `bitdust-${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })
}

export function connect (init: ConnectInit): ChainClients {
  const chain = chainFor(init.chainId, init.rpcUrl)
  const transport = rpcTransport(init.rpcUrl, { timeoutMs: init.requestTimeoutMs ?? 10_000 })
  const pollingInterval = init.pollIntervalMs ?? POLL_INTERVAL_MS
  const publicClient = createPublicClient({ chain, transport, pollingInterval })
  if (init.privateKey === undefined) return { chain, rpcUrl: init.rpcUrl, publicClient }
  const account = privateKeyToAccount(init.privateKey)
  const walletClient = createWalletClient({ chain, transport, account, pollingInterval })
  return { chain, rpcUrl: init.rpcUrl, publicClient, walletClient, account }
}
