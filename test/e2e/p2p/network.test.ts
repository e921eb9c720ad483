/**
 * The peer network across several processes on 127.0.0.1: a relay, two suppliers and a contact
 * run as child processes; the consumer (and a hidden consumer) run in this process. Stake is
 * checked against a real local chain with the real contracts.
 */
import { expect } from 'chai'
import { readdir } from 'node:fs/promises'
import { generateIdentity } from '../../../node/crypto/identity.ts'
import { DUST } from '../../../node/chain/deploy-params.ts'
import { KEYS, startTestNetwork } from '../../node/chain/helpers/network.ts'
import { Cleanup, collect, fragment, startNode, tempDir, waitFor } from '../../node/p2p/helpers/nodes.ts'
import { Processes } from './helpers/processes.ts'
import type { PeerProcess } from './helpers/processes.ts'
import type { TestNetwork } from '../../node/chain/helpers/network.ts'
import type { P2PNode } from '../../../node/p2p/node.ts'
import type { StakeChecker } from '../../../node/p2p/discovery/index.ts'

async function rejects (p: Promise<unknown>, name: string): Promise<void> {
  try { await p } catch (err) { expect((err as Error).name, (err as Error).message).to.equal(name); return }
  throw new Error(`expected ${name}`)
}

describe('p2p network across processes (real libp2p, real chain)', function () {
  this.timeout(180_000)
  const procs = new Processes()
  const cleanup = new Cleanup()
  let net: TestNetwork
  let relay: PeerProcess
  let staked: PeerProcess
  let unstaked: PeerProcess
  let stakedDir: string
  let unstakedDir: string
  let consumer: P2PNode
  const asked: string[] = []
  const stake = 1000n * DUST

  before(async () => {
    net = await startTestNetwork()
    cleanup.add(async () => { await net.stop() })
    await net.supplierA.staking.register({ peerId: new Uint8Array([0x00, 0x24, 1]), capacity: 10n ** 12n, pricePerBytePeriod: 1n })
    await net.supplierA.staking.stake(stake)
    stakedDir = await tempDir(cleanup)
    unstakedDir = await tempDir(cleanup)
    relay = await procs.spawn({ key: generateIdentity().privateKeyHex, relay: { serve: true } })
    const offer = { capacity: String(10n ** 12n), price: '1', stake: String(stake) }
    staked = await procs.spawn({ key: KEYS[2], dir: stakedDir, bootstrap: [relay.addr], relay: { relays: [relay.addr] }, offer, echo: true })
    unstaked = await procs.spawn({ key: KEYS[3], dir: unstakedDir, bootstrap: [relay.addr], relay: { relays: [relay.addr] }, offer, idleTimeoutMs: 1500 })
    // The real chain, observed: records which addresses discovery asked about.
    const chain: StakeChecker = { stakeOf: async (a, o) => { asked.push(a.toLowerCase()); return await net.consumer.stakeOf(a, o) } }
    consumer = await startNode(cleanup, { bootstrap: [relay.addr] }, { stake: chain })
    for (const p of [relay, staked, unstaked]) await consumer.connect(p.addr)
  })

  after(async () => {
    await procs.killAll()
    await cleanup.run()
  })

  it('the supplier processes are distinct processes with their chain identities', () => {
    expect(new Set([relay.child.pid, staked.child.pid, unstaked.child.pid, process.pid]).size).to.equal(4)
    expect(staked.address).to.equal(net.supplierA.address!.toLowerCase())
  })

  it('discovery keeps the staked supplier and drops the one the chain does not back', async () => {
    await waitFor(async () => {
      if (consumer.discovery.cache.get(staked.peerId) == null) {
        await staked.call({ cmd: 'republish' })
        await consumer.discovery.findSuppliers({}, { signal: AbortSignal.timeout(3000) })
      }
      return consumer.discovery.cache.get(staked.peerId) != null
    }, 60_000, 'staked offer')
    await waitFor(async () => {
      if (!asked.includes(unstaked.address)) await unstaked.call({ cmd: 'republish' })
      return asked.includes(unstaked.address)
    }, 60_000, 'stake check of the unstaked supplier')
    expect(consumer.discovery.cache.get(unstaked.peerId)).to.equal(undefined)
    expect(consumer.discovery.cache.get(staked.peerId)?.stake).to.equal(stake)
  })

  it('puts, lists and gets a 4 MiB fragment on a supplier in another process', async () => {
    const { bytes, meta } = fragment(16 * 1024)
    const { receipt } = await consumer.putFragment(staked.peerId, meta, [bytes])
    expect(receipt.supplier).to.equal(staked.peerId)
    expect(await readdir(stakedDir)).to.include(`${meta.dealId}-0`)
    const { list } = await consumer.listFragments(staked.peerId, meta.owner)
    expect(list.entries.map((e) => e.root)).to.deep.equal([meta.root])
    const back = await collect(consumer.getFragment(staked.peerId, meta.dealId, 0, { root: meta.root }))
    expect(Buffer.from(back).equals(Buffer.from(bytes))).to.equal(true)
  })

  it('a hidden consumer stores through the relay process; the supplier process sees only the relay', async () => {
    const hidden = await startNode(cleanup, { relay: { hide: true, relays: [relay.addr] } })
    const { bytes, meta } = fragment(4 * 1024)
    await hidden.putFragment(staked.peerId, meta, [bytes])
    const seen = await staked.call<string[]>({ cmd: 'connections', peer: hidden.peerId })
    expect(seen).to.not.be.empty
    for (const a of seen) {
      expect(a).to.include('/p2p-circuit')
      expect(a.startsWith(relay.addr), a).to.equal(true)
    }
  })

  it('a supplier process that stalls mid-fragment is timed out by the consumer', async () => {
    const impatient = await startNode(cleanup, { idleTimeoutMs: 2000 })
    await impatient.connect(unstaked.addr)
    const { bytes, meta } = fragment(64 * 1024) // 16 MiB: far more than the stream windows hold
    const started = impatient.putFragment(unstaked.peerId, meta, (async function * () {
      yield bytes.subarray(0, 1024 * 1024)
      unstaked.child.kill('SIGSTOP')
      yield bytes.subarray(1024 * 1024)
    })())
    try {
      await rejects(started, 'PeerTimeoutError')
    } finally {
      unstaked.child.kill('SIGCONT')
    }
    // Once it runs again it also times out the half-sent fragment and keeps nothing.
    await waitFor(async () => (await readdir(unstakedDir)).length === 0, 20_000, 'supplier cleaned up')
  })

  it('a consumer process killed mid-upload leaves nothing at the supplier', async () => {
    const sender = await procs.spawn({ key: generateIdentity().privateKeyHex, bootstrap: [unstaked.addr] })
    const { meta } = fragment(4096)
    await sender.call({ cmd: 'put-slowly', peer: unstaked.peerId, meta })
    await waitFor(async () => (await readdir(unstakedDir)).some((f) => f.endsWith('.part')), 20_000, 'partial file')
    sender.child.kill('SIGKILL')
    await waitFor(async () => (await readdir(unstakedDir)).length === 0, 20_000, 'partial file removed')
  })

  it('direct messages cross processes, and a message to an offline contact is delivered when it starts', async () => {
    const replies: string[] = []
    consumer.messages.onMessage((m) => replies.push(m.text))
    const sent = await consumer.messages.send(staked.peerId, 'ping')
    expect(sent.acked).to.equal(true)
    await waitFor(() => replies.includes('echo: ping'), 20_000, 'echo')

    const later = generateIdentity()
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    const { privateKeyFromRaw } = await import('@libp2p/crypto/keys')
    const laterId = peerIdFromPrivateKey(privateKeyFromRaw(later.privateKey)).toString()
    expect((await consumer.messages.send(laterId, 'while you were out')).acked).to.equal(false)
    await procs.spawn({ key: later.privateKeyHex, bootstrap: [consumer.multiaddrs()[0] as string], echo: true })
    await waitFor(() => replies.includes('echo: while you were out'), 30_000, 'delayed delivery and echo')
  })
})
