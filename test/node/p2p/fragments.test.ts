import { expect } from 'chai'
import { Framed } from '../../../node/p2p/wire/framed.ts'
import { decodeReply, PutCommit, PutHashed, PutReady, PutRequest, PutResult } from '../../../node/p2p/wire/messages.ts'
import { ROOT_LATER } from '../../../node/proofs/constants.ts'
import { PROTOCOL_FRAGMENT_PUT } from '../../../node/p2p/constants.ts'
import { Cleanup, collect, fragment, startNode, tempDir, waitFor } from './helpers/nodes.ts'
import { DirBackend } from './helpers/dir-backend.ts'
import type { P2PNode } from '../../../node/p2p/node.ts'

async function rejects (p: Promise<unknown>, name: string): Promise<Error> {
  try {
    await p
  } catch (err) {
    expect((err as Error).name, (err as Error).message).to.equal(name)
    return err as Error
  }
  throw new Error(`expected ${name}`)
}

describe('p2p fragment protocols (two real libp2p nodes)', function () {
  this.timeout(60_000)
  const cleanup = new Cleanup()
  let supplier: P2PNode
  let consumer: P2PNode
  let backend: DirBackend

  beforeEach(async () => {
    backend = new DirBackend(await tempDir(cleanup), { quota: 16 * 1024 * 1024 })
    supplier = await startNode(cleanup, { idleTimeoutMs: 1000, commitWaitMs: 1500 }, { fragments: backend })
    consumer = await startNode(cleanup)
    await consumer.connect(supplier.multiaddrs()[0] as string)
  })
  afterEach(async () => { await cleanup.run() })

  describe('put', () => {
    it('stores a fragment and answers with a receipt signed by the supplier', async () => {
      const { bytes, meta } = fragment(4096)
      const events: number[] = []
      const r = await consumer.putFragment(supplier.peerId, meta, [bytes.subarray(0, 1000), bytes.subarray(1000)], { onProgress: (e) => events.push(e.sent) })
      expect(r.receipt).to.include({ dealId: meta.dealId, slot: meta.slot, root: meta.root, size: meta.size, supplier: supplier.peerId })
      expect(r.sig.length).to.be.greaterThan(0)
      expect(events.at(-1)).to.equal(meta.size)
      expect(await backend.files()).to.deep.equal([`${meta.dealId}-0`])
    })

    it('the supplier confirms bytes as it takes them in, so a slow supplier is not mistaken for a dead one', async () => {
      const { bytes, meta } = fragment(4 * 9 * 1024) // 9 MiB
      const received: number[] = []
      await consumer.putFragment(supplier.peerId, meta, [bytes], { onProgress: (e) => { if (e.received > 0) received.push(e.received) } })
      expect(received.length).to.be.greaterThan(0)
      expect(received.every((r) => r >= 4 * 1024 * 1024 && r < meta.size)).to.equal(true)
    })

    it('takes a fragment sent before its root is known and keeps it under the root it hashed once the consumer commits', async () => {
      const { bytes, meta } = fragment(64)
      const committed: string[] = []
      // The commit comes later than the supplier's idle limit: it waits for it longer (commitWaitMs).
      const r = await consumer.putFragment(supplier.peerId, { ...meta, root: ROOT_LATER }, [bytes], {
        commit: async (root) => { committed.push(root); await new Promise((resolve) => setTimeout(resolve, 1200)) },
      })
      expect(committed).to.deep.equal([meta.root])
      expect(r.receipt.root).to.equal(meta.root)
      expect((await backend.stat(meta.dealId, meta.slot)).root).to.equal(meta.root)
    })

    it('a consumer that does not commit to the hashed root leaves nothing behind, and says why', async () => {
      const { bytes, meta } = fragment(64)
      const err = await rejects(consumer.putFragment(supplier.peerId, { ...meta, root: ROOT_LATER }, [bytes], {
        commit: async () => { throw Object.assign(new Error('the deal could not be opened'), { name: 'ChainRevertError' }) },
      }), 'ChainRevertError')
      expect(err.message).to.equal('the deal could not be opened')
      await waitFor(async () => (await backend.files()).length === 0, 5000, 'temp file removed')
      expect(await backend.list(meta.owner)).to.deep.equal([])
    })

    it('drops a fragment whose commit never comes, or names another root', async () => {
      for (const commit of [undefined, `0x${'ab'.repeat(32)}`]) {
        const { bytes, meta } = fragment(64)
        const stream = await consumer.openStream(supplier.peerId, PROTOCOL_FRAGMENT_PUT)
        const io = new Framed(stream, { idleTimeoutMs: 10_000 })
        await io.writeFrame(PutRequest.encode({ ...meta, root: ROOT_LATER }))
        decodeReply(await io.readFrame(), PutReady)
        await io.write(bytes)
        expect(decodeReply(await io.readFrame(), PutHashed).root).to.equal(meta.root)
        if (commit !== undefined) await io.writeFrame(PutCommit.encode({ root: commit }))
        await rejects(io.readFrame().then((b) => decodeReply(b, PutResult)), commit === undefined ? 'PeerTimeoutError' : 'FragmentRootMismatchError')
        await waitFor(async () => (await backend.files()).length === 0, 5000, 'temp file removed')
        expect(await backend.list(meta.owner)).to.deep.equal([])
      }
    })

    it('refuses a fragment that does not match its root and keeps nothing', async () => {
      const { bytes, meta } = fragment(64)
      const bad = new Uint8Array(bytes)
      bad[100] = (bad[100] as number) ^ 1
      await rejects(consumer.putFragment(supplier.peerId, meta, [bad]), 'FragmentRootMismatchError')
      expect(await backend.files()).to.deep.equal([])
    })

    it('refuses over quota before any byte is sent', async () => {
      const { meta } = fragment(1)
      let pulled = false
      const source = (async function * () { pulled = true; yield new Uint8Array(0) })()
      await rejects(consumer.putFragment(supplier.peerId, { ...meta, size: 32 * 1024 * 1024 }, source), 'QuotaExceededError')
      expect(pulled).to.equal(false)
    })

    it('refuses a fragment it already holds', async () => {
      const { bytes, meta } = fragment(4)
      await consumer.putFragment(supplier.peerId, meta, [bytes])
      await rejects(consumer.putFragment(supplier.peerId, meta, [bytes]), 'FragmentExistsError')
    })

    it('refuses a source shorter than the declared size', async () => {
      const { bytes, meta } = fragment(8)
      await rejects(consumer.putFragment(supplier.peerId, meta, [bytes.subarray(0, 256)]), 'FragmentSizeMismatchError')
      await waitFor(async () => (await backend.files()).length === 0, 5000, 'temp file removed')
    })

    it('a half-sent fragment leaves nothing behind', async () => {
      const { bytes, meta } = fragment(1024)
      const stream = await consumer.openStream(supplier.peerId, PROTOCOL_FRAGMENT_PUT)
      const io = new Framed(stream)
      await io.writeFrame(PutRequest.encode(meta))
      decodeReply(await io.readFrame(), PutReady)
      await io.write(bytes.subarray(0, 100_000))
      await waitFor(async () => (await backend.files()).length === 1, 5000, 'temp file')
      io.abort(new Error('consumer went away'))
      await waitFor(async () => (await backend.files()).length === 0, 5000, 'temp file removed')
      expect(await backend.list(meta.owner)).to.deep.equal([])
    })

    it('a put aborted by the caller stops at once and leaves nothing behind', async () => {
      const { bytes, meta } = fragment(8192)
      const ac = new AbortController()
      const p = consumer.putFragment(supplier.peerId, meta, [bytes], {
        signal: ac.signal,
        onProgress: (e) => { if (e.sent >= 256 * 1024) ac.abort(new Error('user cancelled')) }
      })
      const err = await p.then(() => undefined, (e: Error) => e)
      expect(err?.message).to.equal('user cancelled')
      await waitFor(async () => (await backend.files()).length === 0, 5000, 'temp file removed')
      expect(await backend.list(meta.owner)).to.deep.equal([])
    })

    it('times out a peer that stalls mid-fragment and removes its bytes', async () => {
      const { bytes, meta } = fragment(1024)
      const stream = await consumer.openStream(supplier.peerId, PROTOCOL_FRAGMENT_PUT)
      const io = new Framed(stream, { idleTimeoutMs: 10_000 })
      await io.writeFrame(PutRequest.encode(meta))
      decodeReply(await io.readFrame(), PutReady)
      await io.write(bytes.subarray(0, 4096))
      await rejects(io.readFrame().then((b) => decodeReply(b, PutResult)), 'PeerTimeoutError')
      expect(await backend.files()).to.deep.equal([])
    })

    it('refuses an oversized header frame by resetting the stream', async () => {
      const stream = await consumer.openStream(supplier.peerId, PROTOCOL_FRAGMENT_PUT)
      const io = new Framed(stream, { idleTimeoutMs: 5000 })
      const head = new Uint8Array(4)
      new DataView(head.buffer).setUint32(0, 64 * 1024 * 1024)
      await io.write(head)
      await rejects(io.readFrame(), 'StreamEndedError')
    })

    it('answers a malformed header with a typed error', async () => {
      const stream = await consumer.openStream(supplier.peerId, PROTOCOL_FRAGMENT_PUT)
      const io = new Framed(stream, { idleTimeoutMs: 5000 })
      await io.writeFrame(new TextEncoder().encode('{"v":1,"t":"put","dealId":"0x00"}'))
      await rejects(io.readFrame().then((b) => decodeReply(b, PutReady)), 'MalformedMessageError')
    })

    it('answers an unknown wire version with UnsupportedVersionError', async () => {
      const stream = await consumer.openStream(supplier.peerId, PROTOCOL_FRAGMENT_PUT)
      const io = new Framed(stream, { idleTimeoutMs: 5000 })
      await io.writeFrame(new TextEncoder().encode('{"v":2,"t":"put"}'))
      await rejects(io.readFrame().then((b) => decodeReply(b, PutReady)), 'UnsupportedVersionError')
    })

    it('a node without a fragment store does not speak the protocol', async () => {
      const { bytes, meta } = fragment(1)
      const other = await startNode(cleanup)
      await consumer.connect(other.multiaddrs()[0] as string)
      const err = await consumer.putFragment(other.peerId, meta, [bytes]).then(() => undefined, (e: Error) => e)
      expect(err?.name).to.match(/UnsupportedProtocolError|ProtocolError/)
    })
  })

  describe('get', () => {
    it('streams a whole fragment back, verified against its root', async () => {
      const { bytes, meta } = fragment(2048)
      await consumer.putFragment(supplier.peerId, meta, [bytes])
      const seen: number[] = []
      const got = await collect(consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root }, { onProgress: (e) => seen.push(e.received) }))
      expect(Buffer.from(got).equals(Buffer.from(bytes))).to.equal(true)
      expect(seen.at(-1)).to.equal(meta.size)
    })

    it('verifies a ranged read with Merkle paths', async () => {
      const { bytes, meta } = fragment(300)
      await consumer.putFragment(supplier.peerId, meta, [bytes])
      const got = await collect(consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root, offset: 256 * 17, length: 256 * 5 }))
      expect(Buffer.from(got).equals(Buffer.from(bytes.subarray(256 * 17, 256 * 22)))).to.equal(true)
    })

    it('rejects a whole fragment whose bytes do not match the root the consumer expects', async () => {
      const { bytes, meta } = fragment(16)
      await consumer.putFragment(supplier.peerId, meta, [bytes])
      // The supplier corrupts its copy on disk after accepting it.
      const { writeFile } = await import('node:fs/promises')
      const bad = new Uint8Array(bytes)
      bad[5] = (bad[5] as number) ^ 0xff
      await writeFile(`${backend.dir}/${meta.dealId}-0`, bad)
      await rejects(collect(consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root })), 'FragmentRootMismatchError')
      await rejects(collect(consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root, offset: 0, length: 256 })), 'FragmentRootMismatchError')
      // verify: false hands the bytes over unhashed (the decoder hashes them itself); ranges are
      // still checked against their paths.
      const unverified = await collect(consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root, verify: false }))
      expect(Buffer.from(unverified).equals(Buffer.from(bad))).to.equal(true)
      await rejects(collect(consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root, offset: 0, length: 256, verify: false })), 'FragmentRootMismatchError')
    })

    it('closes its streams, finished or abandoned: a long-lived connection never runs out of them', async () => {
      const { bytes, meta } = fragment(8)
      await consumer.putFragment(supplier.peerId, meta, [bytes])
      // Far more than the per-connection stream limit (64) on one connection.
      for (let i = 0; i < 100; i++) {
        await collect(consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root, offset: 256 * (i % 8), length: 256 }))
        for await (const _ of consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root })) break
      }
      const got = await collect(consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root }))
      expect(Buffer.from(got).equals(Buffer.from(bytes))).to.equal(true)
      for (const node of [consumer, supplier]) {
        await waitFor(() => node.libp2p.getConnections().flatMap((c) => c.streams).every((s) => s.protocol?.startsWith('/bitdust/fragment-') !== true), 20_000, 'every fragment stream to close')
      }
    })

    it('rejects a root the deal does not name', async () => {
      const { bytes, meta } = fragment(4)
      await consumer.putFragment(supplier.peerId, meta, [bytes])
      await rejects(collect(consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: '0x' + '00'.repeat(32) })), 'FragmentRootMismatchError')
    })

    it('reports a missing fragment and a bad range with typed errors', async () => {
      const { bytes, meta } = fragment(4)
      await rejects(collect(consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root })), 'FragmentNotFoundError')
      await consumer.putFragment(supplier.peerId, meta, [bytes])
      await rejects(collect(consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root, offset: 1024, length: 256 })), 'InvalidRangeError')
      await rejects(collect(consumer.getFragment(supplier.peerId, meta.dealId, 0, { root: meta.root, offset: 10, length: 256 })), 'InvalidRangeError')
    })
  })

  describe('an unreachable holder', () => {
    it('is reported as a peer that did not answer, naming it, not as a failed multiaddr dial', async () => {
      const { meta } = fragment(4)
      const gone = supplier.peerId
      await supplier.stop()
      await waitFor(() => consumer.libp2p.getConnections().length === 0)
      const err = await rejects(collect(consumer.getFragment(gone, meta.dealId, 0, { root: meta.root })), 'PeerUnreachableError')
      expect(err.message).to.match(new RegExp(`^peer ${gone.slice(0, 8)}…${gone.slice(-6)} did not answer \\(offline\\?\\)`))
    })
  })

  describe('list', () => {
    it('returns a signed list of what the supplier holds for an owner', async () => {
      const owner = '0x' + 'ab'.repeat(20)
      const a = fragment(2, owner, 0)
      const b = fragment(2, owner, 3)
      const other = fragment(2)
      for (const f of [a, b, other]) await consumer.putFragment(supplier.peerId, f.meta, [f.bytes])
      const { list } = await consumer.listFragments(supplier.peerId, owner)
      expect(list.supplier).to.equal(supplier.peerId)
      expect(list.entries.map((e) => e.root).sort()).to.deep.equal([a.meta.root, b.meta.root].sort())
    })
  })
})
