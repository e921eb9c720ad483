/**
 * `npm run deploy` (scripts/deploy.ts) and the local chain's script mode, as real child processes.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'chai'
import { BitDustChain } from '../../../node/chain/client.ts'
import { startLocalChain } from '../../../node/chain/local-chain.ts'
import type { LocalChain } from '../../../node/chain/local-chain.ts'
import { ensureCompiled, PROJECT_ROOT } from '../../../node/chain/artifacts.ts'
import { KEYS } from './helpers/network.ts'

function run (args: string[], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    const base = { ...process.env }
    delete base.BITDUST_RPC_URL
    delete base.BITDUST_DEPLOYER_KEY
    const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }))
  })
}

describe('chain: deploy script', function () {
  this.timeout(120_000)
  let chain: LocalChain
  let dir: string
  before(async function () {
    await ensureCompiled()
    chain = await startLocalChain({ blockTimeMs: 0 })
    dir = mkdtempSync(join(tmpdir(), 'bitdust-deploy-'))
  })
  after(async function () {
    await chain.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('deploys to the given endpoint, prints the profile fragment and writes it to --out', async function () {
    const out = join(dir, 'network.json')
    const r = await run(['scripts/deploy.ts', '--rpc', chain.rpcUrl, '--key', KEYS[0], '--params', 'devnet', '--out', out])
    expect(r.code, r.stderr).to.equal(0)
    const printed = JSON.parse(r.stdout) as { rpcUrl: string, chainId: number, deployBlock: number, contracts: { token: `0x${string}`, staking: `0x${string}`, market: `0x${string}` } }
    expect(JSON.parse(readFileSync(out, 'utf8'))).to.deep.equal(printed)
    expect(printed.rpcUrl).to.equal(chain.rpcUrl)
    expect(printed.chainId).to.equal(chain.chainId)
    expect(printed.deployBlock).to.be.greaterThan(0)
    const client = new BitDustChain({ ...printed, privateKey: KEYS[1] })
    await client.checkNetwork()
    expect(await client.token.faucetAmount()).to.be.greaterThan(0n)
  })

  it('takes the endpoint and key from BITDUST_RPC_URL and BITDUST_DEPLOYER_KEY', async function () {
    const r = await run(['scripts/deploy.ts'], { BITDUST_RPC_URL: chain.rpcUrl, BITDUST_DEPLOYER_KEY: KEYS[0] })
    expect(r.code, r.stderr).to.equal(0)
    const printed = JSON.parse(r.stdout) as { contracts: { token: `0x${string}` } }
    // Default parameters: no faucet.
    const client = new BitDustChain({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, contracts: printed.contracts as never })
    expect(await client.token.faucetAmount()).to.equal(0n)
  })

  it('refuses to run without an endpoint and key, or with a malformed key, saying what is missing', async function () {
    const none = await run(['scripts/deploy.ts'])
    expect(none.code).to.equal(2)
    expect(none.stderr).to.contain('--rpc')
    const bad = await run(['scripts/deploy.ts', '--rpc', chain.rpcUrl, '--key', '1234'])
    expect(bad.code).to.equal(2)
    expect(bad.stderr).to.contain('32-byte hex private key')
    const preset = await run(['scripts/deploy.ts', '--rpc', chain.rpcUrl, '--key', KEYS[0], '--params', 'mainnet'])
    expect(preset.code).to.equal(2)
    expect(preset.stderr).to.contain('devnet, default')
  })

  it('fails with a message naming the endpoint when nothing listens there', async function () {
    const r = await run(['scripts/deploy.ts', '--rpc', 'http://127.0.0.1:9', '--key', KEYS[0]])
    expect(r.code).to.equal(1)
    expect(r.stderr).to.contain('deploy failed')
    expect(r.stderr).to.contain('http://127.0.0.1:9 cannot be reached')
  })
})

describe('chain: local chain script mode', function () {
  this.timeout(60_000)
  it('prints its endpoint as JSON, serves it, and exits on SIGTERM', async function () {
    const child = spawn(process.execPath, ['node/chain/local-chain.ts', '--port', '0', '--block-time', '0'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = ''
        child.stdout.on('data', (b: Buffer) => { buf += b.toString(); if (buf.includes('\n')) resolve(buf.split('\n')[0]!) })
        child.on('exit', (code) => reject(new Error(`exited with ${String(code)}`)))
      })
      const info = JSON.parse(line) as { rpcUrl: string, chainId: number, pid: number }
      expect(info.pid).to.equal(child.pid)
      const res = await fetch(info.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }) })
      expect(Number(((await res.json()) as { result: string }).result)).to.equal(info.chainId)
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      expect(await exited).to.equal(0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })
})
