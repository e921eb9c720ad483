import { expect } from 'chai'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Level } from 'level'
import { merkleRoot } from '../../../node/proofs/merkle.ts'
import { fragmentStore } from '../../../node/storage/fragment-store/index.ts'
import { toHex } from '../../../node/p2p/wire/hex.ts'
import { lentStats } from '../../../node/util/lent-buffers.ts'
import { Cleanup, startNode, tempDir } from './helpers/nodes.ts'
import type { FragmentMeta } from '../../../node/p2p/fragments/backend.ts'

const MiB = 1024 * 1024

describe('p2p: fragments served from lent buffers', function () {
  this.timeout(120_000)
  const cleanup = new Cleanup()
  afterEach(async () => { await cleanup.run() })

  it('several gets at once from the real store arrive intact, and the read and cipher buffers go back', async () => {
    const dir = await tempDir(cleanup)
    const db = new Level<string, string>(join(dir, 'db'))
    await db.open()
    cleanup.add(async () => { await db.close() })
    const store = fragmentStore({ dir: join(dir, 'fragments'), quota: 1e9 })({ db: db.sublevel<string, string>('s', {}) })
    await store.start()
    cleanup.add(async () => { await store.stop() })
    const supplier = await startNode(cleanup, {}, { fragments: store })
    const consumer = await startNode(cleanup)
    await consumer.connect(supplier.multiaddrs()[0] as string)

    const frags = [0, 1, 2].map((slot) => {
      const bytes = randomBytes(12 * MiB + slot * 256 * 7)
      const meta: FragmentMeta = { dealId: toHex(randomBytes(32)), slot, size: bytes.length, root: toHex(merkleRoot(bytes)), owner: '0x' + '11'.repeat(20) }
      return { bytes, meta }
    })
    for (const f of frags) await consumer.putFragment(supplier.peerId, f.meta, [f.bytes])

    const returned = lentStats.returned
    // Three at once share one connection, so buffers of one read are in flight beside another's.
    const hashes = await Promise.all(frags.map(async (f) => {
      const h = createHash('sha256')
      for await (const chunk of consumer.getFragment(supplier.peerId, f.meta.dealId, f.meta.slot, { root: f.meta.root })) h.update(chunk)
      return h.digest('hex')
    }))
    expect(hashes).to.deep.equal(frags.map((f) => createHash('sha256').update(f.bytes).digest('hex')))
    // At least every 1 MiB step read from disk came back (and, over TCP, its ciphertext too).
    expect(lentStats.returned - returned).to.be.at.least(3 * 12)
  })
})
