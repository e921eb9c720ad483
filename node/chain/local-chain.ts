/**
 * A local EVM chain (Hardhat's EDR simulator) in this process, served as JSON-RPC over HTTP on
 * loopback. The devnet and the tests use it; nothing else in the node depends on it.
 *
 * Why our own small HTTP handler instead of Hardhat's `createServer`: `createServer` builds a new
 * chain each time, so a server restarted on the same port would lose every contract. Keeping the
 * EIP-1193 provider and only closing/reopening the HTTP listener lets tests (and operators) restart
 * the endpoint with its state intact, which is exactly what clients must survive.
 *
 * Script mode: `npx node node/chain/local-chain.ts [--port N] [--block-time MS]` prints one JSON
 * line `{"rpcUrl","chainId"}` on stdout and runs until SIGINT/SIGTERM.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHardhatRuntimeEnvironment } from 'hardhat/hre'
import type { EthereumProvider } from 'hardhat/types/providers'
import { log } from '../log.ts'
import { DEV_ACCOUNT_BALANCE, DEV_ACCOUNT_COUNT, DEV_MNEMONIC, LOCAL_BLOCK_TIME_MS, LOCAL_CHAIN_ID, LOCAL_HOST } from './constants.ts'

const debug = log('chain:local')

export interface LocalAccount {
  /** 0x-prefixed 32-byte private key. */
  privateKey: `0x${string}`
  /** Balance in wei. */
  balance: bigint
}

export interface LocalChainInit {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number
  /** Milliseconds between blocks mined while idle; 0 disables interval mining (automine only). */
  blockTimeMs?: number
  chainId?: number
  /** Prefunded accounts; default: the first 20 accounts of the Hardhat mnemonic with 10,000 ETH each. */
  accounts?: LocalAccount[]
  /** EVM hardfork (default: Hardhat's current one); e.g. 'berlin' for a chain without EIP-1559 fees. */
  hardfork?: string
}

export interface LocalChain {
  rpcUrl: string
  chainId: number
  port: number
  /** The in-process provider (bypasses HTTP): for test helpers such as evm_mine. */
  provider: EthereumProvider
  /** Closes the HTTP endpoint but keeps the chain and its state. */
  pause(): Promise<void>
  /** Serves the same chain again on the same port. */
  resume(): Promise<void>
  /** Stops serving and discards the chain. */
  stop(): Promise<void>
  /**
   * JSON-RPC requests served over HTTP so far, by method; `eth_call` and `eth_estimateGas` by
   * method and 4-byte selector (`eth_call:0x12345678`). For benchmarks of what clients ask.
   */
  calls(): Map<string, number>
}

export class LocalChainError extends Error {
  override name = 'LocalChainError'
}

interface RpcRequest { jsonrpc?: string, id?: unknown, method?: unknown, params?: unknown }

export async function startLocalChain (init: LocalChainInit = {}): Promise<LocalChain> {
  const blockTimeMs = init.blockTimeMs ?? LOCAL_BLOCK_TIME_MS
  const chainId = init.chainId ?? LOCAL_CHAIN_ID
  const accounts = init.accounts !== undefined
    ? init.accounts.map((a) => ({ privateKey: a.privateKey, balance: a.balance.toString() }))
    : { mnemonic: DEV_MNEMONIC, count: DEV_ACCOUNT_COUNT, accountsBalance: DEV_ACCOUNT_BALANCE.toString() }
  const hre = await createHardhatRuntimeEnvironment({
    networks: {
      local: {
        type: 'edr-simulated',
        chainType: 'l1',
        chainId,
        accounts,
        ...(init.hardfork !== undefined ? { hardfork: init.hardfork } : {}),
        // Automine every transaction, and also mine on an interval so that block-counted periods advance.
        mining: blockTimeMs > 0 ? { auto: true, interval: blockTimeMs } : { auto: true },
        // Tests run faster blocks than one per second; timestamps then repeat, which the contracts accept.
        allowBlocksWithSameTimestamp: blockTimeMs > 0 && blockTimeMs < 1000,
      },
    },
  })
  const connection = await hre.network.create('local')
  const provider = connection.provider

  let server: http.Server | undefined
  let port = init.port ?? 0
  const counts = new Map<string, number>()
  const sockets = new Set<import('node:net').Socket>()

  async function listen (): Promise<void> {
    const s = http.createServer((req, res) => { void handle(provider, req, res, counts) })
    s.on('connection', (socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(port, LOCAL_HOST, () => { s.off('error', reject); resolve() })
    })
    port = (s.address() as AddressInfo).port
    server = s
    debug('serving chain %d on %s:%d', chainId, LOCAL_HOST, port)
  }

  async function close (): Promise<void> {
    const s = server
    if (s === undefined) return
    server = undefined
    // Keep-alive connections would hold the port open (and keep answering): cut them.
    for (const socket of sockets) socket.destroy()
    sockets.clear()
    await new Promise<void>((resolve) => s.close(() => resolve()))
    debug('endpoint on port %d closed', port)
  }

  await listen()
  return {
    rpcUrl: `http://${LOCAL_HOST}:${port}`,
    chainId,
    get port () { return port },
    provider,
    pause: close,
    async resume () {
      if (server !== undefined) return
      await listen()
    },
    async stop () {
      await close()
      await connection.close()
    },
    calls: () => new Map(counts),
  }
}

async function handle (provider: EthereumProvider, req: http.IncomingMessage, res: http.ServerResponse, counts: Map<string, number>): Promise<void> {
  res.setHeader('Access-Control-Allow-Origin', '*')
  res.setHeader('Access-Control-Allow-Headers', '*')
  if (req.method === 'OPTIONS') { res.writeHead(200).end(); return }
  let body: unknown
  try {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (err) {
    send(res, { jsonrpc: '2.0', id: null, error: { code: -32700, message: `Parse error: ${(err as Error).message}` } })
    return
  }
  for (const r of Array.isArray(body) ? body : [body]) count(counts, r as RpcRequest)
  const out = Array.isArray(body)
    ? await Promise.all(body.map(async (r) => await one(provider, r as RpcRequest)))
    : await one(provider, body as RpcRequest)
  send(res, out)
}

function count (counts: Map<string, number>, req: RpcRequest): void {
  if (typeof req?.method !== 'string') return
  let key = req.method
  if (key === 'eth_call' || key === 'eth_estimateGas') {
    const data = Array.isArray(req.params) ? (req.params[0] as { data?: unknown, input?: unknown } | undefined) : undefined
    const input = data?.data ?? data?.input
    if (typeof input === 'string') key += `:${input.slice(0, 10)}`
  }
  counts.set(key, (counts.get(key) ?? 0) + 1)
}

function send (res: http.ServerResponse, payload: unknown): void {
  if (res.destroyed) return
  res.statusCode = 200
  res.setHeader('Content-Type', 'application/json')
  res.end(JSON.stringify(payload))
}

async function one (provider: EthereumProvider, req: RpcRequest): Promise<unknown> {
  const id = req?.id ?? null
  if (typeof req?.method !== 'string') {
    return { jsonrpc: '2.0', id, error: { code: -32600, message: 'Invalid request' } }
  }
  try {
    const params = Array.isArray(req.params) ? req.params : []
    const result = await provider.request({ method: req.method, params })
    return { jsonrpc: '2.0', id, result: result ?? null }
  } catch (err) {
    return { jsonrpc: '2.0', id, error: rpcError(err) }
  }
}

/** Same shape as Hardhat's own server: reverts (code 3) carry the raw return data that viem decodes. */
function rpcError (err: unknown): { code: number, message: string, data?: unknown } {
  const e = err as { code?: unknown, message?: unknown, data?: unknown }
  const code = typeof e.code === 'number' ? e.code : -32603
  const message = typeof e.message === 'string' ? e.message : String(err)
  let data: unknown
  if (typeof e.data === 'string') data = e.data
  else if (typeof e.data === 'object' && e.data !== null && typeof (e.data as { data?: unknown }).data === 'string') {
    data = (e.data as { data: string }).data
  }
  return data === undefined ? { code, message } : { code, message, data }
}

function arg (args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag)
  return i >= 0 ? args[i + 1] : undefined
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const chain = await startLocalChain({
    port: Number(arg(args, '--port') ?? 0),
    blockTimeMs: Number(arg(args, '--block-time') ?? LOCAL_BLOCK_TIME_MS),
  })
  process.stdout.write(JSON.stringify({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, pid: process.pid }) + '\n')
  const shutdown = (): void => { void chain.stop().then(() => process.exit(0)) }
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`local chain failed: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  })
}
