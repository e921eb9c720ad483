/**
 * The whole network on one machine: a local EVM chain (in this process), the contracts deployed,
 * funded identities, one relay, N suppliers and the user's node as separate processes on
 * 127.0.0.1. Used by `npm start` and by the end-to-end tests.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEVNET_FILE } from '../config/constants.ts'
import { startLocalChain } from '../chain/local-chain.ts'
import { LOCAL_BLOCK_TIME_MS } from '../chain/constants.ts'
import type { LocalChain } from '../chain/local-chain.ts'
import { ensureCompiled, needsCompile } from '../chain/artifacts.ts'
import { connect } from '../chain/connect.ts'
import { deployBitDust, fundAccounts } from '../chain/deploy.ts'
import type { Deployment } from '../chain/deploy.ts'
import { DEVNET_PARAMS, DUST } from '../chain/deploy-params.ts'
import type { DeployParams } from '../chain/deploy-params.ts'
import { generateIdentity } from '../crypto/identity.ts'
import type { Identity } from '../crypto/identity.ts'
import { keystorePath, loadKeystore, saveKeystore } from '../crypto/keystore.ts'
import { Supervisor } from './processes.ts'
import type { RunningNode } from './processes.ts'

/**
 * The devnet's market: 20-block periods (20 s at one block a second) so that proofs and payments
 * happen while you watch, with a 15-block answer window so that ten node processes sharing a
 * laptop's cores still prove in time, and jail after 5 missed periods in a row.
 */
export const DEVNET_MARKET_PARAMS: DeployParams = {
  ...DEVNET_PARAMS,
  market: { ...DEVNET_PARAMS.market, periodBlocks: 20n, proofWindow: 15n, missesToJail: 5n, challengeWindow: 15n },
}

/**
 * The term of an upload on the devnet unless BITDUST_PERIODS says otherwise: a week. The default
 * 100 periods are 100 days on a network of daily periods, but half an hour of 20 s devnet periods,
 * after which a file someone uploaded to try BitDust would be gone.
 */
export function devnetTerm (params: DeployParams, blockMs: number): number {
  if (process.env.BITDUST_PERIODS !== undefined && process.env.BITDUST_PERIODS !== '') return Number(process.env.BITDUST_PERIODS)
  const week = Math.ceil(7 * 86_400_000 / (blockMs * Number(params.market.periodBlocks)))
  return Math.min(week, Number(params.market.maxDurationPeriods))
}

/** Cheap scrypt for throwaway devnet keystores; the user's own keystore keeps the standard cost. */
const DEVNET_SCRYPT = { N: 1024, r: 8, p: 1 }
/**
 * The suppliers and the relay stand for other people's machines but share this one with the
 * user's node: they run at this niceness so that the node the person drives keeps the CPU it
 * needs, as it would with machines of their own (util/priority.ts).
 */
export const BACKGROUND_NICE = 10
const DEVNET_PASSPHRASE = 'devnet'

export interface DevnetInit {
  /** The user's data directory; devnet processes live in <datadir>/devnet/. */
  datadir: string
  suppliers?: number
  blockTimeMs?: number
  params?: DeployParams
  /** Passphrase of the user's keystore (created if missing). */
  passphrase?: string
  /** Tokens minted to every account. */
  tokens?: bigint
  /** Tokens each supplier stakes. */
  stake?: bigint
  /** Bytes each supplier donates. */
  quota?: bigint
  /** Extra flags for the user's node (e.g. ['--hide']). */
  userArgs?: string[]
  /** Extra environment for every node (e.g. BITDUST_WATCH_MS). */
  env?: Record<string, string>
  /** Start the user's node (default true); tests may start their own nodes instead. */
  user?: boolean
  onProgress?: (message: string) => void
  signal?: AbortSignal
}

export interface Devnet {
  chain: LocalChain
  deployment: Deployment
  networkFile: string
  supervisor: Supervisor
  relay: RunningNode
  suppliers: RunningNode[]
  user: RunningNode | undefined
  /** Starts one more node in the devnet (a supplier or another user), funded and configured. */
  addNode: (name: string, role: 'supplier' | 'user', options?: { datadir?: string, args?: string[], identity?: Identity }) => Promise<RunningNode>
  stop: () => Promise<void>
}

export interface DevnetRecord {
  rpcUrl: string
  chainId: number
  contracts: Deployment['contracts']
  processes: Array<{ name: string, role: string, pid: number | undefined, peerId: string, address: string, api: string, datadir: string }>
}

export async function startDevnet (init: DevnetInit): Promise<Devnet> {
  const say = init.onProgress ?? (() => {})
  const params = init.params ?? DEVNET_MARKET_PARAMS
  const blockMs = init.blockTimeMs !== undefined && init.blockTimeMs > 0 ? init.blockTimeMs : LOCAL_BLOCK_TIME_MS
  const tokens = init.tokens ?? 1_000_000n * DUST
  const root = join(init.datadir, 'devnet')
  rmSync(root, { recursive: true, force: true })
  mkdirSync(root, { recursive: true })

  say('identities')
  const userPass = init.passphrase ?? process.env.BITDUST_PASSPHRASE ?? ''
  let userIdentity: Identity
  if (existsSync(keystorePath(init.datadir))) {
    userIdentity = await loadKeystore(init.datadir, userPass)
  } else {
    userIdentity = generateIdentity()
    await saveKeystore(init.datadir, userIdentity, userPass)
  }
  const deployer = generateIdentity()
  const count = init.suppliers ?? 6
  const relayId = generateIdentity()
  const supplierIds = Array.from({ length: count }, () => generateIdentity())
  // Spare funded identities for nodes that tests add later.
  const spares = Array.from({ length: 4 }, () => generateIdentity())
  const everyone = [userIdentity, relayId, ...supplierIds, ...spares]

  say('chain')
  const chain = await startLocalChain({
    port: 0,
    ...(init.blockTimeMs !== undefined ? { blockTimeMs: init.blockTimeMs } : {}),
    accounts: [deployer, ...everyone].map((id) => ({ privateKey: id.privateKeyHex, balance: 1000n * 10n ** 18n })),
  })
  const supervisor = new Supervisor()
  try {
    // The first start compiles them (the market through the IR pipeline): say why it takes a while.
    say(needsCompile() ? 'contracts (compiling them: the first start only, about half a minute)' : 'contracts')
    await ensureCompiled()
    const clients = connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, privateKey: deployer.privateKeyHex })
    if (clients.walletClient === undefined) throw new Error('deployer has no wallet')
    const deployment = await deployBitDust({ walletClient: clients.walletClient, publicClient: clients.publicClient, params }, init.signal ? { signal: init.signal } : {})
    say('funding')
    await fundAccounts({ walletClient: clients.walletClient, publicClient: clients.publicClient, token: deployment.contracts.token, accounts: everyone.map((i) => i.address), tokens })

    const networkFile = join(root, 'network.json')
    const profile = { name: `devnet-${deployment.contracts.market.slice(2, 10).toLowerCase()}`, rpcUrl: chain.rpcUrl, chainId: chain.chainId, contracts: deployment.contracts, deployBlock: deployment.deployBlock, bootstrap: [] as string[] }
    writeFileSync(networkFile, JSON.stringify(profile, null, 2))

    const env = { ...init.env, BITDUST_PASSPHRASE: DEVNET_PASSPHRASE, BITDUST_NETWORK: networkFile }
    const prepare = async (name: string, identity: Identity): Promise<string> => {
      const dir = join(root, name)
      await saveKeystore(dir, identity, DEVNET_PASSPHRASE, { scrypt: DEVNET_SCRYPT })
      return dir
    }

    say('relay')
    const relay = await supervisor.start({ name: 'relay', role: 'relay', datadir: await prepare('relay', relayId), args: ['--relay', '--nice', String(BACKGROUND_NICE)], env }, init.signal ? { signal: init.signal } : {})
    profile.bootstrap = relay.status.multiaddrs
    writeFileSync(networkFile, JSON.stringify(profile, null, 2))
    // Everyone else also holds a reservation on the relay, so that nodes hiding behind it can
    // reach them (a hidden node dials only through relays).
    Object.assign(env, { BITDUST_RELAYS: relay.status.multiaddrs.filter((a) => !a.includes('/p2p-circuit')).join(',') })

    const supplierArgs = ['--supply', '--stake', String(init.stake ?? 100_000n * DUST), '--quota', String(init.quota ?? 4n * 2n ** 30n), '--price', '1', '--nice', String(BACKGROUND_NICE)]
    say(`suppliers (${count})`)
    const suppliers = await Promise.all(supplierIds.map(async (id, i) => await supervisor.start({
      name: `supplier-${i + 1}`, role: 'supplier', datadir: await prepare(`supplier-${i + 1}`, id), args: supplierArgs, env,
    })))

    let user: RunningNode | undefined
    if (init.user !== false) {
      say('your node')
      user = await supervisor.start({
        name: 'user', role: 'user', datadir: init.datadir, args: init.userArgs ?? [], env: { BITDUST_PERIODS: String(devnetTerm(params, blockMs)), ...env, BITDUST_PASSPHRASE: userPass },
      })
    }

    const record = (): DevnetRecord => ({
      rpcUrl: chain.rpcUrl,
      chainId: chain.chainId,
      contracts: deployment.contracts,
      processes: supervisor.nodes.map((n) => ({ name: n.spec.name, role: n.spec.role, pid: n.child.pid, peerId: n.status.peerId, address: n.status.address, api: n.endpoint.url, datadir: n.spec.datadir })),
    })
    const writeRecord = (): void => { writeFileSync(join(init.datadir, DEVNET_FILE), JSON.stringify(record(), null, 2)) }
    writeRecord()

    let spare = 0
    return {
      chain, deployment, networkFile, supervisor, relay, suppliers, user,
      addNode: async (name, role, options = {}) => {
        const identity = options.identity ?? spares[spare++]
        if (identity === undefined) throw new Error('no funded spare identity left in the devnet')
        const datadir = options.datadir ?? join(root, name)
        if (!existsSync(keystorePath(datadir))) await saveKeystore(datadir, identity, DEVNET_PASSPHRASE, { scrypt: DEVNET_SCRYPT })
        const node = await supervisor.start({ name, role, datadir, args: [...(role === 'supplier' ? supplierArgs : []), ...(options.args ?? [])], env })
        writeRecord()
        return node
      },
      stop: async () => {
        await supervisor.stop()
        await chain.stop()
        rmSync(join(init.datadir, DEVNET_FILE), { force: true })
      },
    }
  } catch (err) {
    await supervisor.stop()
    await chain.stop()
    throw err
  }
}
