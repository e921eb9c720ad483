import { expect } from 'chai'
import type { Abi, Address } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { connect } from '../../../node/chain/connect.ts'
import type { ChainClients } from '../../../node/chain/connect.ts'
import { startLocalChain } from '../../../node/chain/local-chain.ts'
import type { LocalChain } from '../../../node/chain/local-chain.ts'
import { registerRevertMessages } from '../../../node/chain/revert-messages.ts'
import { TxSender } from '../../../node/chain/tx.ts'
import type { TxProgress } from '../../../node/chain/tx.ts'
import { counterArtifact } from './helpers/fixture-contract.ts'

const KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'

async function rejection (p: Promise<unknown>): Promise<Error & Record<string, any>> {
  try { await p } catch (err) { return err as Error & Record<string, any> }
  throw new Error('expected a rejection')
}

describe('chain: transactions', function () {
  this.timeout(60_000)
  let chain: LocalChain
  let clients: ChainClients
  let tx: TxSender
  let abi: Abi
  let counter: Address

  before(async function () {
    chain = await startLocalChain({ blockTimeMs: 250 })
    clients = connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, privateKey: KEY, pollIntervalMs: 50 })
    tx = new TxSender(clients, { pollIntervalMs: 50, baseDelayMs: 100, maxDelayMs: 500 })
    const art = counterArtifact()
    abi = art.abi
    tx.addErrorAbis([abi])
    counter = (await tx.deploy({ abi, bytecode: art.bytecode, args: [3n], name: 'Counter' })).address
  })
  after(async function () { await chain.stop() })

  it('sends a call, reports progress and waits for confirmations', async function () {
    const events: TxProgress[] = []
    const receipt = await tx.write({ address: counter, abi, functionName: 'inc' }, { confirmations: 2, onProgress: (e) => events.push(e) })
    expect(receipt.status).to.equal('success')
    expect(events.map((e) => e.type)).to.deep.equal(['tx:simulated', 'tx:sent', 'tx:mined', 'tx:confirmed'])
    expect(await clients.publicClient.getBlockNumber({ cacheTime: 0 })).to.be.at.least(receipt.blockNumber + 1n)
    expect(await tx.read({ address: counter, abi, functionName: 'count' })).to.equal(1n)
  })

  it('serializes concurrent sends of one account (one nonce each)', async function () {
    const receipts = await Promise.all([1, 2].map(async () => await tx.write({ address: counter, abi, functionName: 'inc' })))
    expect(receipts.every((r) => r.status === 'success')).to.equal(true)
    expect(await tx.read({ address: counter, abi, functionName: 'count' })).to.equal(3n)
  })

  it('turns a custom error into ContractRevertError with name, args and a sentence', async function () {
    registerRevertMessages({ CounterTooHigh: (a) => `the counter would reach ${String(a[0])}, above its maximum ${String(a[1])}` })
    const before = await clients.publicClient.getTransactionCount({ address: clients.account!.address })
    const err = await rejection(tx.write({ address: counter, abi, functionName: 'inc' }))
    expect(err.name).to.equal('ContractRevertError')
    expect(err.errorName).to.equal('CounterTooHigh')
    expect(err.args).to.deep.equal([4n, 3n])
    expect(err.functionName).to.equal('inc')
    expect(err.transactionHash).to.equal(undefined)
    expect(err.message).to.contain('the counter would reach 4, above its maximum 3')
    // Rejected in simulation: no transaction (and no gas) was spent.
    expect(await clients.publicClient.getTransactionCount({ address: clients.account!.address })).to.equal(before)
  })

  it('decodes require strings and panics on reads', async function () {
    const e1 = await rejection(tx.read({ address: counter, abi, functionName: 'needs', args: [1n] }))
    expect(e1.name).to.equal('ContractRevertError')
    expect(e1.errorName).to.equal('Error')
    expect(e1.message).to.contain('x must exceed ten')
    const e2 = await rejection(tx.read({ address: counter, abi, functionName: 'divide', args: [0n] }))
    expect(e2.errorName).to.equal('Panic')
    expect(e2.message).to.contain('division by zero')
  })

  it('says an unknown error selector is unknown instead of guessing', async function () {
    const bare = new TxSender(clients, { pollIntervalMs: 50 })
    const noErrors = abi.filter((i) => i.type !== 'error')
    const err = await rejection(bare.read({ address: counter, abi: noErrors, functionName: 'divide', args: [0n] }))
    // Panic is built in; a custom error without its ABI is not:
    expect(err.errorName).to.equal('Panic')
    const err2 = await rejection(bare.write({ address: counter, abi: noErrors, functionName: 'inc' }))
    expect(err2.name).to.equal('ContractRevertError')
    expect(err2.errorName).to.equal('unknown')
    expect(err2.message).to.match(/selector 0x[0-9a-f]{8}/)
  })

  it('rejects a send from an account without ether with InsufficientFundsError', async function () {
    const poor = connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, privateKey: generatePrivateKey(), pollIntervalMs: 50 })
    const poorTx = new TxSender(poor, { pollIntervalMs: 50, errorAbis: [abi] })
    const err = await rejection(poorTx.write({ address: counter, abi, functionName: 'needs', args: [11n] }))
    expect(err.name).to.equal('InsufficientFundsError')
    expect(err.message).to.contain('fund it')
  })

  it('fails with RpcUnavailableError while the endpoint is down', async function () {
    const quick = new TxSender(clients, { attempts: 2, baseDelayMs: 50 })
    await chain.pause()
    try {
      const err = await rejection(quick.read({ address: counter, abi, functionName: 'count' }))
      expect(err.name).to.equal('RpcUnavailableError')
      expect(err.message).to.contain(chain.rpcUrl)
      const err2 = await rejection(quick.write({ address: counter, abi, functionName: 'needs', args: [11n] }))
      expect(err2.name).to.equal('RpcUnavailableError')
    } finally {
      await chain.resume()
    }
  })

  it('survives an endpoint restart during a send, with the same client', async function () {
    const events: TxProgress[] = []
    await chain.pause()
    const sending = tx.write({ address: counter, abi, functionName: 'needs', args: [11n] }, { onProgress: (e) => events.push(e) })
    await new Promise((resolve) => setTimeout(resolve, 400))
    await chain.resume()
    const receipt = await sending
    expect(receipt.status).to.equal('success')
    expect(events.some((e) => e.type === 'tx:retry')).to.equal(true)
    expect(await tx.read({ address: counter, abi, functionName: 'count' })).to.equal(3n)
  })

  it('stops when aborted', async function () {
    const ac = new AbortController()
    ac.abort()
    const err = await rejection(tx.write({ address: counter, abi, functionName: 'needs', args: [11n] }, { signal: ac.signal }))
    expect(err.name).to.equal('AbortError')
  })
})

describe('chain: transactions whose state changes between estimate and mining', function () {
  this.timeout(60_000)
  let chain: LocalChain
  let tx: TxSender
  let abi: Abi
  let counter: Address
  const OTHER = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

  before(async function () {
    chain = await startLocalChain({ blockTimeMs: 0 })
    const clients = connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, privateKey: KEY, pollIntervalMs: 30 })
    tx = new TxSender(clients, { pollIntervalMs: 30, baseDelayMs: 50 })
    const art = counterArtifact()
    abi = art.abi
    tx.addErrorAbis([abi])
    counter = (await tx.deploy({ abi, bytecode: art.bytecode, args: [3n], name: 'Counter' })).address
  })
  after(async function () { await chain.stop() })

  /**
   * Sends `functionName` from our account with automine off; once it is in the pool, another
   * account raises the flag with a higher tip so that it runs first in the same block.
   */
  async function raceFlag (functionName: string, events: TxProgress[]): Promise<unknown> {
    const p = chain.provider
    await p.request({ method: 'evm_setAutomine', params: [false] })
    const { encodeFunctionData } = await import('viem')
    let sent!: () => void
    const isSent = new Promise<void>((resolve) => { sent = resolve })
    const sending = tx.write({ address: counter, abi, functionName }, { onProgress: (e) => { events.push(e); if (e.type === 'tx:sent') sent() } })
      .then((r) => r, (err: unknown) => err)
    await isSent
    await p.request({
      method: 'eth_sendTransaction',
      params: [{ from: OTHER, to: counter, data: encodeFunctionData({ abi, functionName: 'setFlag', args: [true] }), maxPriorityFeePerGas: '0x174876e800', maxFeePerGas: '0x174876e800' }],
    })
    await p.request({ method: 'evm_mine', params: [] })
    await p.request({ method: 'evm_setAutomine', params: [true] })
    const out = await sending
    await p.request({ method: 'eth_sendTransaction', params: [{ from: OTHER, to: counter, data: encodeFunctionData({ abi, functionName: 'setFlag', args: [false] }) }] })
    return out
  }

  it('starts over with a fresh gas estimate when the transaction ran out of gas', async function () {
    const events: TxProgress[] = []
    const out = await raceFlag('heavyIfFlag', events) as { status: string }
    expect(out.status).to.equal('success')
    const retry = events.find((e) => e.type === 'tx:retry')
    expect(retry).to.not.equal(undefined)
    expect((retry as { reason: string }).reason).to.contain('ran out of gas')
    const sends = events.filter((e) => e.type === 'tx:sent') as Array<{ gas: bigint }>
    expect(sends).to.have.length(2)
    expect(sends[1]!.gas).to.be.greaterThan(sends[0]!.gas)
  })

  it('says why a transaction that passed simulation reverted once mined', async function () {
    const events: TxProgress[] = []
    const err = await raceFlag('failIfFlag', events) as Error & Record<string, any>
    expect(err.name).to.equal('ContractRevertError')
    expect(err.errorName).to.equal('CounterTooHigh')
    expect(events.map((e) => e.type)).to.include('tx:mined')
    expect(err.transactionHash).to.match(/^0x[0-9a-f]{64}$/)
  })
})

describe('chain: transactions the endpoint loses or never mines', function () {
  this.timeout(60_000)
  let chain: LocalChain
  let clients: ChainClients
  let abi: Abi
  let counter: Address

  before(async function () {
    chain = await startLocalChain({ blockTimeMs: 0 })
    clients = connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, privateKey: KEY, pollIntervalMs: 30 })
    const art = counterArtifact()
    abi = art.abi
    counter = (await new TxSender(clients).deploy({ abi, bytecode: art.bytecode, args: [3n], name: 'Counter' })).address
  })
  after(async function () { await chain.stop() })
  afterEach(async function () { await chain.provider.request({ method: 'evm_setAutomine', params: [true] }) })

  it('broadcasts the same signed transaction again when the endpoint forgot it', async function () {
    const tx = new TxSender(clients, { pollIntervalMs: 30 })
    await chain.provider.request({ method: 'evm_setAutomine', params: [false] })
    let sentHash: string | undefined
    let dropped!: () => void
    const isDropped = new Promise<void>((resolve) => { dropped = resolve })
    const sending = tx.write({ address: counter, abi, functionName: 'inc' }, {
      onProgress: (e) => {
        if (e.type !== 'tx:sent') return
        sentHash = e.hash
        void chain.provider.request({ method: 'hardhat_dropTransaction', params: [e.hash] })
          .then(async () => await chain.provider.request({ method: 'evm_setAutomine', params: [true] }))
          .then(() => dropped())
      },
    })
    await isDropped
    const receipt = await sending
    expect(receipt.status).to.equal('success')
    expect(receipt.transactionHash).to.equal(sentHash)
  })

  it('gives up with TransactionTimeoutError when the transaction is never mined', async function () {
    const tx = new TxSender(clients, { pollIntervalMs: 30, receiptTimeoutMs: 400 })
    await chain.provider.request({ method: 'evm_setAutomine', params: [false] })
    const err = await rejection(tx.write({ address: counter, abi, functionName: 'inc' }))
    expect(err.name).to.equal('TransactionTimeoutError')
    expect(err.message).to.match(/not mined within/)
    expect(err.hash).to.match(/^0x[0-9a-f]{64}$/)
    // Mining it later is harmless; the account's next send still works.
    await chain.provider.request({ method: 'evm_mine', params: [] })
    await chain.provider.request({ method: 'evm_setAutomine', params: [true] })
    expect((await tx.write({ address: counter, abi, functionName: 'inc' })).status).to.equal('success')
  })
})

describe('chain: transactions on a chain without EIP-1559 fees', function () {
  this.timeout(60_000)
  let chain: LocalChain
  before(async function () { chain = await startLocalChain({ blockTimeMs: 0, hardfork: 'berlin' }) })
  after(async function () { await chain.stop() })

  it('falls back to a legacy gas price', async function () {
    const clients = connect({ rpcUrl: chain.rpcUrl, chainId: chain.chainId, privateKey: KEY, pollIntervalMs: 30 })
    const tx = new TxSender(clients, { pollIntervalMs: 30 })
    const block = await clients.publicClient.getBlock()
    expect(block.baseFeePerGas ?? null).to.equal(null)
    const receipt = await tx.sendRaw({ to: '0x000000000000000000000000000000000000dEaD', data: '0x', value: 1n, abi: [], what: 'a legacy transfer' })
    expect(receipt.status).to.equal('success')
    expect(receipt.type).to.equal('legacy')
  })
})
