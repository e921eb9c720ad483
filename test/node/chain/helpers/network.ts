/**
 * A real local chain with the real contracts, deployed by node/chain/deploy.ts, and funded
 * BitDustChain clients for a few well-known development accounts.
 */
import { randomBytes } from 'node:crypto'
import { toHex } from 'viem'
import type { Hex } from 'viem'
import { ensureCompiled } from '../../../../node/chain/artifacts.ts'
import { BitDustChain } from '../../../../node/chain/client.ts'
import { connect } from '../../../../node/chain/connect.ts'
import { deployBitDust, fundAccounts } from '../../../../node/chain/deploy.ts'
import type { Deployment } from '../../../../node/chain/deploy.ts'
import { DEVNET_PARAMS, DUST } from '../../../../node/chain/deploy-params.ts'
import type { DeployParams } from '../../../../node/chain/deploy-params.ts'
import { startLocalChain } from '../../../../node/chain/local-chain.ts'
import type { LocalChain } from '../../../../node/chain/local-chain.ts'
import { buildLevels, createProof, hashLeaves, rootOf } from '../../../../node/proofs/merkle.ts'
import { SEGMENT_SIZE } from '../../../../node/proofs/constants.ts'

/** Hardhat's development keys #0..#3. */
export const KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
] as const

export interface TestNetwork {
  chain: LocalChain
  deployment: Deployment
  /** deployer (token owner), consumer, supplier A, supplier B */
  deployer: BitDustChain
  consumer: BitDustChain
  supplierA: BitDustChain
  supplierB: BitDustChain
  client: (key: Hex) => BitDustChain
  stop: () => Promise<void>
}

export async function startTestNetwork (params: DeployParams = DEVNET_PARAMS, blockTimeMs = 200): Promise<TestNetwork> {
  await ensureCompiled()
  const chain = await startLocalChain({ blockTimeMs })
  try {
    const { publicClient, walletClient } = connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, privateKey: KEYS[0], pollIntervalMs: 50 })
    const deployment = await deployBitDust({ publicClient, walletClient: walletClient!, params })
    const client = (key: Hex): BitDustChain => new BitDustChain({
      rpcUrl: chain.rpcUrl, chainId: chain.chainId, contracts: deployment.contracts, deployBlock: deployment.deployBlock,
      privateKey: key, pollIntervalMs: 50, baseDelayMs: 100, maxDelayMs: 500,
    })
    const [deployer, consumer, supplierA, supplierB] = [KEYS[0], KEYS[1], KEYS[2], KEYS[3]].map(client) as [BitDustChain, BitDustChain, BitDustChain, BitDustChain]
    await fundAccounts({ publicClient, walletClient: walletClient!, token: deployment.contracts.token, accounts: [consumer.address!, supplierA.address!, supplierB.address!], tokens: 100_000n * DUST })
    return { chain, deployment, deployer, consumer, supplierA, supplierB, client, stop: async () => await chain.stop() }
  } catch (err) {
    await chain.stop()
    throw err
  }
}

export interface Fragment {
  data: Uint8Array
  levels: Uint8Array[][]
  root: Hex
}

export function randomFragment (segments: number): Fragment {
  const data = new Uint8Array(randomBytes(segments * SEGMENT_SIZE))
  const levels = buildLevels(hashLeaves(data))
  return { data, levels, root: toHex(rootOf(levels)) }
}

/** The packed proof IMarket takes for one sample: the segment, then its siblings bottom-up. */
export function packedProof (f: Fragment, segment: number): Uint8Array {
  const p = createProof(f.data, f.levels, segment)
  const out = new Uint8Array(SEGMENT_SIZE + 32 * p.path.length)
  out.set(p.segment, 0)
  p.path.forEach((s, i) => out.set(s, SEGMENT_SIZE + 32 * i))
  return out
}

export function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

export function salt (): Hex {
  return toHex(randomBytes(32))
}
