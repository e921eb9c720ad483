/**
 * Runs BitDust nodes as child processes (`bitdust start`) and waits until each one's API answers.
 * Used by the devnet and by end-to-end tests; every child is killed when the supervisor stops.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, rmSync, mkdirSync, createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { API_FILE } from '../config/constants.ts'
import { ApiClient } from '../api/client.ts'
import type { ApiEndpoint } from '../api/client.ts'
import { NODE_FLAGS } from '../util/gc.ts'

const BIN = join(import.meta.dirname, '..', 'cli', 'bin.ts')

/** The command line of a node process: node's own flags first (the bin's shebang has them too). */
export function nodeArgv (spec: Pick<NodeSpec, 'datadir' | 'args'>): string[] {
  return [...NODE_FLAGS, BIN, 'start', '--datadir', spec.datadir, ...spec.args]
}

export interface NodeSpec {
  name: string
  role: 'supplier' | 'relay' | 'user'
  datadir: string
  args: string[]
  env?: Record<string, string>
}

export interface RunningNode {
  spec: NodeSpec
  child: ChildProcess
  endpoint: ApiEndpoint
  api: ApiClient
  status: NodeStatus
}

/** What `GET /status` answers; the devnet records it in devnet.json. */
export interface NodeStatus {
  address: `0x${string}`
  peerId: string
  publicKey: string
  multiaddrs: string[]
  [key: string]: unknown
}

/** Characters of a node's output kept for the error that says why it did not start. */
const LOG_TAIL = 4000

export class NodeStartError extends Error {
  override name = 'NodeStartError'
}

export class Supervisor {
  readonly nodes: RunningNode[] = []
  private stopping = false
  /** Children stopped on purpose: their exit is not worth a warning. */
  private readonly killed = new WeakSet<object>()

  async start (spec: NodeSpec, options: { timeoutMs?: number, signal?: AbortSignal } = {}): Promise<RunningNode> {
    // A restart right after a kill: the old process holds the directory's database until it is
    // gone, and the new one would meet its lock.
    await Promise.all(this.nodes.filter((n) => n.spec.datadir === spec.datadir).map(async (n) => { await exitOf(n) }))
    mkdirSync(spec.datadir, { recursive: true })
    const apiFile = join(spec.datadir, API_FILE)
    rmSync(apiFile, { force: true })
    const logFile = createWriteStream(join(spec.datadir, 'node.log'), { flags: 'a' })
    const child = spawn(process.execPath, nodeArgv(spec), {
      env: { ...process.env, BITDUST_EXIT_WITH_PARENT: '1', ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout?.pipe(logFile)
    child.stderr?.pipe(logFile)
    // The end of what it printed goes into the error if it dies starting: its directory may be
    // gone by the time someone reads the log (a test's temp dir).
    let said = ''
    const hear = (b: Buffer): void => { said = (said + b.toString()).slice(-LOG_TAIL) }
    child.stdout?.on('data', hear)
    child.stderr?.on('data', hear)
    const closed = new Promise<void>((resolve) => { child.once('close', () => { resolve() }) })
    let exited: string | undefined
    child.once('exit', (code, sig) => { exited = `exited with ${sig ?? code}` })
    const deadline = Date.now() + (options.timeoutMs ?? 120_000)
    while (!existsSync(apiFile)) {
      if (exited !== undefined) {
        await Promise.race([closed, sleep(2000)])
        throw new NodeStartError(`${spec.name} ${exited} before its API came up; see ${join(spec.datadir, 'node.log')}${said.trim() === '' ? '' : `; its last words:\n${said.trimEnd()}`}`)
      }
      if (Date.now() > deadline) { child.kill('SIGKILL'); throw new NodeStartError(`${spec.name} did not start within ${options.timeoutMs ?? 120_000} ms; see ${join(spec.datadir, 'node.log')}`) }
      options.signal?.throwIfAborted()
      await sleep(100)
    }
    const endpoint = JSON.parse(readFileSync(apiFile, 'utf8')) as ApiEndpoint
    const api = new ApiClient(endpoint)
    const status = await api.call<NodeStatus>('GET', '/status')
    const node: RunningNode = { spec, child, endpoint, api, status }
    this.nodes.push(node)
    child.once('exit', () => {
      if (!this.stopping && !this.killed.has(child)) process.emitWarning(`${spec.name} ${exited ?? 'exited'}`)
    })
    return node
  }

  /** SIGKILL one node (tests of crashes), without restarting it; resolves once it is gone. */
  async kill (node: RunningNode, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const gone = exitOf(node)
    this.killed.add(node.child)
    node.child.kill(signal)
    await gone
  }

  /** SIGTERM everyone, then SIGKILL whoever is still there after a grace period. */
  async stop (graceMs = 10_000): Promise<void> {
    this.stopping = true
    const alive = this.nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null)
    await Promise.all(alive.map(async (n) => {
      const gone = exitOf(n)
      n.child.kill('SIGTERM')
      const timer = setTimeout(() => n.child.kill('SIGKILL'), graceMs)
      await gone
      clearTimeout(timer)
    }))
  }
}

async function exitOf (node: RunningNode): Promise<void> {
  const c = node.child
  if (c.exitCode !== null || c.signalCode !== null) return
  await new Promise<void>((resolve) => c.once('exit', () => { resolve() }))
}
