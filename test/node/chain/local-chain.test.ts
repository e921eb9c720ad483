import { expect } from 'chai'
import { startLocalChain } from '../../../node/chain/local-chain.ts'
import type { LocalChain } from '../../../node/chain/local-chain.ts'

async function rpc (url: string, method: string, params: unknown[] = []): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  return await res.json()
}

describe('chain: local chain', function () {
  let chain: LocalChain
  before(async function () { chain = await startLocalChain({ blockTimeMs: 200 }) })
  after(async function () { await chain.stop() })

  it('serves JSON-RPC on a loopback port picked by the OS', async function () {
    expect(chain.rpcUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(chain.port).to.be.greaterThan(0)
    const { result } = await rpc(chain.rpcUrl, 'eth_chainId')
    expect(Number(result)).to.equal(chain.chainId)
  })

  it('prefunds the development accounts', async function () {
    const { result } = await rpc(chain.rpcUrl, 'eth_getBalance', ['0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', 'latest'])
    expect(BigInt(result)).to.equal(10_000n * 10n ** 18n)
  })

  it('mines blocks on an interval while idle', async function () {
    const a = Number((await rpc(chain.rpcUrl, 'eth_blockNumber')).result)
    await new Promise((resolve) => setTimeout(resolve, 700))
    const b = Number((await rpc(chain.rpcUrl, 'eth_blockNumber')).result)
    expect(b).to.be.greaterThan(a)
  })

  it('answers malformed requests with JSON-RPC errors', async function () {
    const res = await fetch(chain.rpcUrl, { method: 'POST', body: '{nope' })
    const body = await res.json() as { error: { code: number } }
    expect(body.error.code).to.equal(-32700)
    expect((await rpc(chain.rpcUrl, 'no_such_method')).error).to.be.an('object')
  })

  it('counts the requests it served by method, contract calls and estimates by selector, batches included', async function () {
    const before = chain.calls()
    const call = { to: '0x' + '11'.repeat(20), data: '0x12345678' + '00'.repeat(32) }
    await rpc(chain.rpcUrl, 'eth_call', [call, 'latest'])
    await rpc(chain.rpcUrl, 'eth_estimateGas', [call])
    await fetch(chain.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'eth_chainId' }, { jsonrpc: '2.0', id: 2, method: 'eth_chainId' }]) })
    const after = chain.calls()
    const added = (k: string): number => (after.get(k) ?? 0) - (before.get(k) ?? 0)
    expect([added('eth_call:0x12345678'), added('eth_estimateGas:0x12345678'), added('eth_chainId')]).to.deep.equal([1, 1, 2])
  })

  it('keeps its state across a paused and resumed endpoint on the same port', async function () {
    const port = chain.port
    const before = Number((await rpc(chain.rpcUrl, 'eth_blockNumber')).result)
    await chain.pause()
    let down = false
    try { await rpc(chain.rpcUrl, 'eth_blockNumber') } catch { down = true }
    expect(down).to.equal(true)
    await chain.resume()
    expect(chain.port).to.equal(port)
    const after = Number((await rpc(chain.rpcUrl, 'eth_blockNumber')).result)
    expect(after).to.be.at.least(before)
  })

  it('takes given private keys as prefunded accounts', async function () {
    const other = await startLocalChain({
      blockTimeMs: 0,
      accounts: [{ privateKey: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d', balance: 5n }],
    })
    try {
      const { result } = await rpc(other.rpcUrl, 'eth_getBalance', ['0x70997970C51812dc3A010C7d01b50e0d17dc79C8', 'latest'])
      expect(BigInt(result)).to.equal(5n)
    } finally {
      await other.stop()
    }
  })
})
