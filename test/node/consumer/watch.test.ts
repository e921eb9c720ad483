import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import type { Address, Hex } from 'viem'
import { bytesToHex, hexToBytes } from 'viem'
import { SEGMENT_SIZE } from '../../../node/proofs/constants.ts'
import { buildLevels, createProof, hashLeaves, rootOf, verifyProof } from '../../../node/proofs/merkle.ts'
import type { MerkleProof } from '../../../node/proofs/merkle.ts'
import { spotCheck } from '../../../node/consumer/watch.ts'
import type { WatchChain, WatchNet } from '../../../node/consumer/watch.ts'

const deal = `0x${'aa'.repeat(32)}` as Hex
const holder = (i: number): Address => `0x${(i + 1).toString(16).padStart(40, '0')}` as Address
const frags = [0, 1, 2].map(() => { const b = randomBytes(SEGMENT_SIZE * 16); const levels = buildLevels(hashLeaves(b)); return { b, levels, root: bytesToHex(rootOf(levels)) } })
const watched = { dealId: deal, fragmentSize: SEGMENT_SIZE * 16, roots: frags.map((f) => f.root) }

class Chain implements WatchChain {
  holders: Array<Address | undefined> = [holder(0), holder(1), holder(2)]
  pending = new Set<number>()
  challenged: number[] = []
  reads: number[] = []
  async holderOf (_d: Hex, slot: number): Promise<Address | undefined> { this.reads.push(slot); return this.holders[slot] }
  async challengePending (_d: Hex, slot: number): Promise<boolean> { return this.pending.has(slot) }
  async challengeSlot (_d: Hex, slot: number): Promise<void> { this.challenged.push(slot) }
}

class Net implements WatchNet {
  mode: 'honest' | 'corrupt' | 'offline' | 'wrong-index' = 'honest'
  /** Verifies like the fragment-get client: the holder's segment and path against the root. */
  async checkSegment (_h: Address, _d: Hex, slot: number, segment: number, root: Hex): Promise<void> {
    if (this.mode === 'offline') throw new Error('dial timeout')
    const f = frags[slot] as (typeof frags)[number]
    let p: MerkleProof = createProof(f.b, f.levels, this.mode === 'wrong-index' ? (segment + 1) % 16 : segment)
    if (this.mode === 'corrupt') { const s = Buffer.from(p.segment); s[3] = (s[3] as number) ^ 0xff; p = { ...p, segment: s } }
    if (!verifyProof(hexToBytes(root), SEGMENT_SIZE * 16, { ...p, index: segment })) throw new Error('segment fails its Merkle proof')
  }
}

describe('consumer/watch spotCheck', () => {
  it('passes an honest holder without touching the chain', async () => {
    const chain = new Chain()
    const out = await spotCheck(watched, chain, new Net(), { samples: 3 })
    expect(out.map((o) => o.outcome)).to.deep.equal(['ok', 'ok', 'ok'])
    expect(chain.challenged).to.deep.equal([])
  })

  for (const mode of ['corrupt', 'offline', 'wrong-index'] as const) {
    it(`challenges on chain when the holder answers ${mode}`, async () => {
      const chain = new Chain()
      const net = new Net()
      net.mode = mode
      const out = await spotCheck(watched, chain, net, { samples: 1 })
      expect(out[0]?.outcome).to.equal('challenged')
      expect(chain.challenged).to.have.length(1)
    })
  }

  it('skips free slots and slots already under challenge', async () => {
    const chain = new Chain()
    chain.holders = [undefined, holder(1), holder(2)]
    chain.pending.add(1).add(2)
    const net = new Net()
    net.mode = 'offline'
    const out = await spotCheck(watched, chain, net, { samples: 3 })
    expect(out.map((o) => o.outcome).sort()).to.deep.equal(['free', 'pending', 'pending'])
    expect(chain.challenged).to.deep.equal([])
  })

  it('reads the holder of the sampled slots only', async () => {
    const chain = new Chain()
    const out = await spotCheck(watched, chain, new Net(), { samples: 1 })
    expect(chain.reads).to.deep.equal([out[0]?.slot])
  })
})
