import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { expect } from 'chai'
import { createPublicClient } from 'viem'
import { isNetworkError, isRevert } from '../../../node/chain/revert.ts'
import { RpcUnavailableError, WrongChainError, shownUrl } from '../../../node/chain/errors.ts'
import { rpcClient, rpcTransport } from '../../../node/chain/rpc-transport.ts'

type Handler = (body: { id: number, method: string, params: unknown }, req: http.IncomingMessage, res: http.ServerResponse) => void

/** A JSON-RPC endpoint whose answers each test decides; counts the TCP connections it accepted. */
async function endpoint (handler: Handler): Promise<{ url: string, connections: () => number, close: () => Promise<void> }> {
  let connections = 0
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (b: Buffer) => parts.push(b))
    req.on('end', () => { handler(JSON.parse(Buffer.concat(parts).toString()) as { id: number, method: string, params: unknown }, req, res) })
  })
  server.on('connection', () => { connections++ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    connections: () => connections,
    close: async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) },
  }
}

const answer = (res: http.ServerResponse, id: number, result: unknown): void => {
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ jsonrpc: '2.0', id, result }))
}

async function rejection (p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try { await p } catch (err) { return err as Error & Record<string, unknown> }
  throw new Error('expected a rejection')
}

describe('chain: JSON-RPC transport', function () {
  this.timeout(20_000)
  const closers: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of closers.splice(0)) await c() })

  it('returns results through viem and keeps one socket for many calls', async () => {
    const seen: string[] = []
    const ep = await endpoint((body, _req, res) => { seen.push(body.method); answer(res, body.id, '0x2a') })
    closers.push(ep.close)
    const client = createPublicClient({ transport: rpcTransport(ep.url, { timeoutMs: 5000 }) })
    for (let i = 0; i < 5; i++) expect(await client.getBlockNumber({ cacheTime: 0 })).to.equal(42n)
    expect(seen).to.deep.equal(Array(5).fill('eth_blockNumber'))
    expect(ep.connections()).to.equal(1)
  })

  it('sends a call again on a fresh socket when the endpoint dropped the kept-alive one', async () => {
    const served = new WeakMap<object, number>()
    const ep = await endpoint((body, req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1
      served.set(req.socket, n)
      // The second call on a connection finds it closed, as when an endpoint's idle timeout fires.
      if (n === 2) { req.socket.destroy(); return }
      answer(res, body.id, '0x7')
    })
    closers.push(ep.close)
    const client = rpcClient(ep.url, { timeoutMs: 5000 })
    expect(await client.call('eth_blockNumber', [])).to.equal('0x7')
    expect(await client.call('eth_blockNumber', [])).to.equal('0x7')
    expect(ep.connections()).to.equal(2)
  })

  it('turns a JSON-RPC error into viem\'s RpcRequestError with its code and data (a revert stays a revert)', async () => {
    const ep = await endpoint((body, _req, res) => {
      res.end(JSON.stringify({ jsonrpc: '2.0', id: body.id, error: { code: 3, message: 'execution reverted', data: '0x08c379a0' } }))
    })
    closers.push(ep.close)
    const err = await rejection(rpcClient(ep.url, { timeoutMs: 5000 }).call('eth_call', []))
    expect(err.name).to.equal('RpcRequestError')
    expect(err.code).to.equal(3)
    expect(isRevert(err)).to.equal(true)
    expect(isNetworkError(err)).to.equal(false)
  })

  it('reports an HTTP error status with the body, as a network error', async () => {
    const ep = await endpoint((_body, _req, res) => { res.statusCode = 502; res.end('bad gateway upstream') })
    closers.push(ep.close)
    const err = await rejection(rpcClient(ep.url, { timeoutMs: 5000 }).call('eth_blockNumber', []))
    expect(err.name).to.equal('HttpRequestError')
    expect(err.status).to.equal(502)
    expect(err.message).to.contain('bad gateway upstream')
    expect(isNetworkError(err)).to.equal(true)
  })

  it('times out a call that gets no answer, as a network error', async () => {
    const ep = await endpoint(() => { /* never answers */ })
    closers.push(ep.close)
    const t0 = Date.now()
    const err = await rejection(rpcClient(ep.url, { timeoutMs: 300 }).call('eth_blockNumber', []))
    expect(err.name).to.equal('TimeoutError')
    expect(Date.now() - t0).to.be.lessThan(5000)
    expect(isNetworkError(err)).to.equal(true)
  })

  it('says the endpoint is unreachable when nothing listens, as a network error', async () => {
    const ep = await endpoint(() => {})
    await ep.close()
    const err = await rejection(rpcClient(ep.url, { timeoutMs: 5000 }).call('eth_blockNumber', []))
    expect(err.name).to.equal('HttpRequestError')
    expect(isNetworkError(err)).to.equal(true)
  })

  it('refuses a response larger than its limit', async () => {
    const ep = await endpoint((body, _req, res) => { answer(res, body.id, '0x' + 'ab'.repeat(10_000)) })
    closers.push(ep.close)
    const err = await rejection(rpcClient(ep.url, { timeoutMs: 5000, maxResponseBytes: 4096 }).call('eth_getLogs', []))
    expect(err.name).to.equal('HttpRequestError')
    expect(err.message).to.contain('larger than 4096 bytes')
  })

  it('sends the credentials of the URL as Basic auth and never shows them in errors', async () => {
    let auth: string | undefined
    const ep = await endpoint((_body, req, res) => { auth = req.headers.authorization; res.statusCode = 401; res.end('no') })
    closers.push(ep.close)
    const url = ep.url.replace('http://', 'http://alice:s%40cret@')
    const err = await rejection(rpcClient(url, { timeoutMs: 5000 }).call('eth_chainId', []))
    expect(auth).to.equal(`Basic ${Buffer.from('alice:s@cret').toString('base64')}`)
    expect(err.message).not.to.contain('cret')
    expect(err.message).to.contain(ep.url)
  })

  it('keeps the URL\'s credentials out of the chain layer\'s errors', () => {
    const url = 'https://alice:s3cret@rpc.example.org/v1/key'
    expect(shownUrl(url)).to.equal('https://rpc.example.org/v1/key')
    expect(shownUrl('http://127.0.0.1:8545/')).to.equal('http://127.0.0.1:8545/')
    expect(new RpcUnavailableError(url).message).to.contain('https://rpc.example.org/v1/key').and.not.contain('s3cret')
    expect(new WrongChainError(1, 2, url).message).not.to.contain('s3cret')
  })

  it('refuses a URL that is not http(s)', () => {
    expect(() => rpcClient('ws://127.0.0.1:8545', { timeoutMs: 1000 })).to.throw(/not http/)
  })
})
