/**
 * The whole system on loopback: a real EVM chain (Hardhat's EDR) with the real contracts, a relay,
 * seven suppliers and the user's node as separate processes, driven through the CLI and the API
 * like a person or a script would.
 */
import { expect } from 'chai'
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs'
import type { Hex } from 'viem'
import { createBitDustChain } from '../../../node/chain/client.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BACKGROUND_NICE, startDevnet } from '../../../node/devnet/index.ts'
import type { Devnet } from '../../../node/devnet/index.ts'
import type { RunningNode } from '../../../node/devnet/processes.ts'
import { cli, cliChild, ok, randomFile, sha256File, until } from './helpers.ts'

const PASS = 'e2e passphrase'

describe('BitDust network end to end', function () {
  this.timeout(900_000)
  let dir: string
  let net: Devnet
  let user: RunningNode
  let work: string

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bitdust-e2e-'))
    work = join(dir, 'files')
    await import('node:fs/promises').then(async (fs) => await fs.mkdir(work))
    net = await startDevnet({ datadir: join(dir, 'user'), suppliers: 7, blockTimeMs: 1000, passphrase: PASS, env: { BITDUST_WATCH_MS: '2000', NODE_DEBUG: process.env.NODE_DEBUG ?? 'bitdust:supplier*,bitdust:consumer*,bitdust:repair' } })
    user = net.user as RunningNode
  })

  after(async () => {
    await net?.stop()
    // BITDUST_E2E_KEEP=1 keeps the nodes' data directories and logs for a post-mortem.
    if (process.env.BITDUST_E2E_KEEP !== '1') rmSync(dir, { recursive: true, force: true })
  })

  const upload = async (node: RunningNode, path: string, extra: string[] = []): Promise<{ id: string, name: string, size: number }> =>
    await ok(node.spec.datadir, ['upload', path, ...extra], { BITDUST_PASSPHRASE: PASS })

  /** Bytes each supplier holds: unchanged when nothing was sent to them. */
  const suppliersUsed = async (): Promise<number[]> => await Promise.all(net.supervisor.nodes.filter((n) => n.spec.role === 'supplier')
    .map(async (n) => (await n.api.call<{ supplier: { used: number } }>('GET', '/status')).supplier.used))

  /** A client of the devnet's chain, as any node uses, for reading what happened on chain. */
  const chainClient = (): ReturnType<typeof createBitDustChain> =>
    createBitDustChain({ rpcUrl: net.chain.rpcUrl, chainId: net.chain.chainId, contracts: net.deployment.contracts, deployBlock: net.deployment.deployBlock })

  /** The supplier process of a chain address. */
  const supplierAt = (address: string): RunningNode => net.suppliers.find((x) => x.status.address.toLowerCase() === address.toLowerCase()) as RunningNode

  /** Waits until another supplier than `from` holds the slot (it rebuilt the fragment); returns it. `poke` runs before each look. */
  const takenOver = async (chain: ReturnType<typeof chainClient>, dealId: Hex, index: number, from: string, poke?: () => Promise<unknown>): Promise<string> =>
    await until(`slot ${index} to be taken over by another supplier`, async () => {
      await poke?.().catch(() => {})
      const h = (await chain.market.getSlot(dealId, index)).holder
      return h !== '0x0000000000000000000000000000000000000000' && h.toLowerCase() !== from.toLowerCase() ? h : undefined
    }, 300_000, 1000)

  /** Waits until the user's `ls` says the file is healthy again. */
  const healthy = async (id: string): Promise<void> => {
    await until(`file ${id.slice(0, 10)} to be healthy`, async () => {
      const files = await ok<Array<{ id: string, health: string }>>(user.spec.datadir, ['ls'])
      return files.find((f) => f.id === id)?.health === 'healthy'
    })
  }

  const download = async (node: RunningNode, id: string, out: string): Promise<string> => {
    await ok(node.spec.datadir, ['download', id, '-o', out])
    return await sha256File(out)
  }

  describe('upload and download', () => {
    const cases: Array<[string, number]> = [['empty.bin', 0], ['one-mib.bin', 1 << 20], ['sixty-four.bin', 64 << 20], ['фото été 📷.bin', 4321]]
    for (const [name, size] of cases) {
      it(`gives back ${name} (${size} bytes) byte for byte`, async () => {
        const path = await randomFile(join(work, name), size)
        const up = await upload(user, path)
        expect(up.name).to.equal(name)
        expect(up.size).to.equal(size)
        expect(await download(user, up.id, join(work, `${name}.out`))).to.equal(await sha256File(path))
      })
    }

    it('lists files with their health and when their storage ends (a week on the devnet)', async () => {
      const files = await ok<Array<{ name: string, health: string, held: number, slots: number, state: string, periodsLeft?: number, endsAt?: string }>>(user.spec.datadir, ['ls'])
      expect(files.map((f) => f.name)).to.include.members(['empty.bin', 'one-mib.bin', 'фото été 📷.bin'])
      const day = 86_400_000
      for (const f of files) {
        expect(f.health).to.equal('healthy')
        expect(f.held).to.equal(f.slots)
        expect(f.state).to.equal('active')
        expect(f.periodsLeft, f.name).to.be.within(30_000, 30_241) // 7 days of 20 s periods, from the period after the last fill
        expect(Date.parse(f.endsAt as string) - Date.now(), f.name).to.be.within(6.5 * day, 7.5 * day)
      }
    })

    it('renew keeps a file stored longer at its price, paid from the account, with nothing sent again; audit finds no difference', async () => {
      const files = await ok<Array<{ id: string, name: string, periodsLeft: number }>>(user.spec.datadir, ['ls'])
      const f = files.find((x) => x.name === 'one-mib.bin')
      expect(f).to.not.equal(undefined)
      const balance = async (): Promise<bigint> => BigInt((await user.api.call<{ tokens: string }>('GET', '/balance')).tokens)
      const before = await balance()
      const held = await suppliersUsed()
      const r = await ok<{ periods: number, paid: string, durationPeriods: number, periodsLeft: number }>(user.spec.datadir, ['renew', f?.id as string, '--periods', '500'])
      expect(await suppliersUsed()).to.deep.equal(held)
      expect(r.periods).to.equal(500)
      expect(r.durationPeriods).to.equal(30_240 + 500)
      expect(r.periodsLeft).to.be.within((f?.periodsLeft as number) + 500 - 5, (f?.periodsLeft as number) + 500)
      expect(before - await balance()).to.equal(BigInt(r.paid))
      expect(BigInt(r.paid)).to.equal(6n * (1n << 19n) * 500n) // 4+2 fragments of 512 KiB at price 1
      const tooLong = await cli(user.spec.datadir, ['renew', f?.id as string, '--periods', '99999'])
      expect(tooLong.code).to.equal(1)
      expect((tooLong.json as { error: { message: string } }).error.message).to.match(/may run \d+ more periods at most \(100000 in all on this network\); 99999 were asked/)
      const audit = await cli(user.spec.datadir, ['audit'])
      expect(audit.code, audit.stdout).to.equal(0)
    })

    it('renews a file on its own as its deal nears its end, so that it stays stored until removed', async () => {
      const path = await randomFile(join(work, 'short-term.bin'), 50_000)
      const up = await upload(user, path, ['--periods', '5'])
      // A tenth of the node's term (a week of periods) is far more than 5: the next watch round renews it.
      const renewed = await until('the node to renew the file', async () => {
        const files = await ok<Array<{ id: string, periodsLeft?: number }>>(user.spec.datadir, ['ls'])
        const f = files.find((x) => x.id === up.id)
        return f?.periodsLeft !== undefined && f.periodsLeft > 30_000 ? f : undefined
      }, 120_000, 1000)
      expect(renewed.periodsLeft).to.be.at.most(5 + 30_240 + 1)
      const status = await user.api.call<Record<string, unknown>>('GET', '/status')
      expect(status.renewal).to.equal(undefined)
      // status also shows what the account holds (its tokens pay for renewals).
      expect(BigInt(status.tokens as string)).to.be.greaterThan(0n)
    })

    it('runs the suppliers and the relay at a lower CPU priority than the user\'s node (Linux)', function () {
      if (!existsSync('/proc/self/task')) this.skip()
      // The 19th field of /proc/<pid>/task/<tid>/stat is a thread's niceness.
      const niceness = (pid: number | undefined): number[] => readdirSync(`/proc/${pid}/task`)
        .map((t) => Number(readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8').split(') ')[1]?.split(' ')[16]))
      for (const n of net.supervisor.nodes) {
        const expected = n.spec.role === 'user' ? 0 : BACKGROUND_NICE
        expect(new Set(niceness(n.child.pid)), n.spec.name).to.deep.equal(new Set([expected]))
      }
    })

    it('Ctrl-C on `bitdust upload` cancels the upload in the node: nothing paid, nothing listed, exit 130', async () => {
      const path = await randomFile(join(work, 'interrupted-by-hand.bin'), 96 << 20)
      const before = await user.api.call<{ tokens: string }>('GET', '/balance')
      const { child, done } = cliChild(user.spec.datadir, ['upload', path])
      try {
        await until('the upload to be sending', async () => {
          const jobs = await user.api.call<Array<{ kind: string, state: string, progress?: { stage: string } }>>('GET', '/jobs')
          return jobs.some((j) => j.kind === 'upload' && j.state === 'running' && j.progress?.stage === 'transfer')
        }, 120_000, 50)
        child.kill('SIGINT')
        const r = await done
        expect(r.code, r.stderr).to.equal(130)
        expect(r.stderr).to.include('Cancelling… (Ctrl-C again to leave it running in the node)')
        expect(r.stderr).to.match(/Cancelled by the user\.\n$/)
      } finally {
        child.kill('SIGKILL')
      }
      const jobs = await ok<Array<{ kind: string, state: string }>>(user.spec.datadir, ['jobs'])
      expect(jobs.filter((j) => j.kind === 'upload' && j.state === 'running')).to.deep.equal([])
      expect(jobs.at(-1)).to.include({ kind: 'upload', state: 'cancelled' })
      expect((await user.api.call<{ tokens: string }>('GET', '/balance')).tokens).to.equal(before.tokens)
      const files = await ok<Array<{ name: string }>>(user.spec.datadir, ['ls'])
      expect(files.map((f) => f.name)).to.not.include('interrupted-by-hand.bin')
    })

    it('explains a missing file instead of failing obscurely', async () => {
      const r = await cli(user.spec.datadir, ['upload', join(work, 'does-not-exist')])
      expect(r.code).to.equal(1)
      expect((r.json as { error: { message: string } }).error.message).to.match(/is not a file that can be read/)
    })
    it('refuses, before sending a byte, terms the chain would refuse or the account cannot pay, and says what to change', async () => {
      const path = await randomFile(join(work, 'terms.bin'), 100_000)
      const before = await suppliersUsed()
      const message = async (args: string[]): Promise<string> => {
        const r = await cli(user.spec.datadir, ['upload', path, ...args])
        expect(r.code, args.join(' ')).to.equal(1)
        return (r.json as { error: { message: string } }).error.message
      }
      expect(await message(['--periods', '99999999999'])).to.match(/runs at most \d+ periods; 99999999999 were asked\. Choose fewer with --periods/)
      expect(await message(['--price', '1000000000000000000000'])).to.match(/puts [\d.]+ DUST in escrow .* but your account holds [\d.]+ DUST\. Add tokens/)
      expect(await message(['--price', 'cheap'])).to.match(/price must be a whole number of token base units/)
      expect(await message(['--name', '../x'])).to.match(/cannot contain \//)
      expect(await suppliersUsed()).to.deep.equal(before)
      // The user's node rents out nothing: its supply commands say how to start doing so.
      const r = await cli(user.spec.datadir, ['supply', 'offer', '--price', '2'])
      expect(r.code).to.equal(1)
      expect((r.json as { error: { message: string } }).error.message).to.match(/does not rent out disk space\. Restart it with `bitdust start --supply`/)
    })
  })

  describe('sharing', () => {
    let friend: RunningNode
    let stranger: RunningNode
    before(async () => {
      friend = await net.addNode('friend', 'user')
      stranger = await net.addNode('stranger', 'user')
    })

    it('a contact with a grant downloads the file; a node without one cannot decrypt it', async () => {
      const path = await randomFile(join(work, 'shared.bin'), 300_000)
      const up = await upload(user, path)
      const friendKey = (await friend.api.call<{ publicKey: string }>('GET', '/status')).publicKey
      await ok(user.spec.datadir, ['contacts', 'add', 'friend', friendKey])
      const denied = await cli(stranger.spec.datadir, ['download', up.id, '-o', join(work, 'stolen.bin')])
      expect(denied.code).to.equal(1)
      expect((denied.json as { error: { name: string } }).error.name).to.equal('NoAccessToFileError')
      await ok(user.spec.datadir, ['share', up.id, 'friend'])
      await until('the grant to reach the friend', async () => (await ok<Array<{ id: string, origin: string }>>(friend.spec.datadir, ['ls'])).some((f) => f.id === up.id && f.origin === 'shared'))
      expect(await download(friend, up.id, join(work, 'shared.out'))).to.equal(await sha256File(path))
      const again = await cli(stranger.spec.datadir, ['download', up.id, '-o', join(work, 'stolen2.bin')])
      expect((again.json as { error: { name: string } }).error.name).to.equal('NoAccessToFileError')
    })

    it('direct messages arrive, including one sent while the contact was offline', async () => {
      const userKey = (await user.api.call<{ publicKey: string }>('GET', '/status')).publicKey
      await ok(friend.spec.datadir, ['contacts', 'add', 'me-friend', userKey])
      await ok(user.spec.datadir, ['chat', 'send', 'friend', 'hello friend'])
      await until('the message to arrive', async () => {
        const h = await ok<Array<{ text: string }>>(friend.spec.datadir, ['chat', 'history', 'me-friend'])
        return h.some((m) => m.text === 'hello friend')
      })
      await net.supervisor.kill(friend)
      await ok(user.spec.datadir, ['chat', 'send', 'friend', 'while you were away'])
      friend = await net.supervisor.start(friend.spec)
      await until('the queued message to be delivered', async () => {
        const h = await ok<Array<{ text: string }>>(friend.spec.datadir, ['chat', 'history', 'me-friend'])
        return h.some((m) => m.text === 'while you were away')
      }, 180_000)
    })

    it('group chat: members read each other and a late joiner gets the history', async () => {
      const g = await ok<{ id: string }>(user.spec.datadir, ['group', 'create', 'team'])
      await ok(user.spec.datadir, ['group', 'invite', g.id, 'friend'])
      await until('the friend to join', async () => (await friend.api.call<Array<{ id: string }>>('GET', '/groups')).some((x) => x.id === g.id))
      await ok(user.spec.datadir, ['group', 'send', g.id, 'first words'])
      await ok(friend.spec.datadir, ['group', 'send', g.id, 'reply from friend'])
      await until('both messages at the user', async () => {
        const h = await ok<Array<{ text: string }>>(user.spec.datadir, ['group', 'history', g.id])
        return h.some((m) => m.text === 'reply from friend') && h.some((m) => m.text === 'first words')
      })
      const strangerKey = (await stranger.api.call<{ publicKey: string }>('GET', '/status')).publicKey
      await ok(user.spec.datadir, ['contacts', 'add', 'late', strangerKey])
      await ok(user.spec.datadir, ['group', 'invite', g.id, 'late'])
      await until('the late joiner to see earlier messages', async () => {
        const h = await ok<Array<{ text: string }>>(stranger.spec.datadir, ['group', 'history', g.id])
        return h.some((m) => m.text === 'first words') && h.some((m) => m.text === 'reply from friend')
      })
    })
  })

  describe('anonymity', () => {
    it('a consumer behind a relay is seen by suppliers only through the relay', async () => {
      const hidden = await net.addNode('hidden', 'user', { args: ['--hide'] })
      const hiddenId = hidden.status.peerId
      const path = await randomFile(join(work, 'hidden.bin'), 200_000)
      const up = await upload(hidden, path)
      expect(await download(hidden, up.id, join(work, 'hidden.out'))).to.equal(await sha256File(path))
      let seen = 0
      for (const s of net.suppliers) {
        const peers = await s.api.call<Array<{ peerId: string, remoteAddr: string }>>('GET', '/peers')
        for (const p of peers.filter((x) => x.peerId === hiddenId)) {
          seen++
          expect(p.remoteAddr, `supplier ${s.spec.name} sees the hidden node at ${p.remoteAddr}`).to.include('/p2p-circuit')
          expect(p.remoteAddr).to.include(net.relay.status.peerId)
        }
      }
      expect(seen, 'the hidden node talked to suppliers').to.be.greaterThan(0)
    })
  })

  describe('money', () => {
    it('a supplier earns price × fragment size × proven periods; a cancel refunds the rest; audit finds no difference', async () => {
      const chain = chainClient()
      const me = user.status.address
      const before = await chain.token.balanceOf(me)
      const path = await randomFile(join(work, 'paid.bin'), 500_000)
      const up = await upload(user, path)
      const deal = await chain.market.getDeal(up.id as Hex)
      const n = deal.dataSlots + deal.paritySlots
      // Let the holders prove a few periods.
      const start = await chain.market.currentPeriod()
      await until('three periods to pass', async () => await chain.market.currentPeriod() >= start + 3n, 180_000, 1000)
      // ls tells what the keeper found: every slot proven in the last period, none missed.
      const listed = await until('the keeper to go through a due period', async () => {
        const f = (await ok<Array<{ id: string, proven?: number, missed?: number }>>(user.spec.datadir, ['ls'])).find((x) => x.id === up.id)
        return f?.proven !== undefined && f.proven > 0 ? f : undefined
      }, 60_000, 1000)
      expect([listed.proven, listed.missed]).to.deep.equal([n, 0])
      // Every holder claims: its node settles its slots first.
      const holders = await Promise.all(Array.from({ length: n }, async (_, i) => (await chain.market.getSlot(up.id as Hex, i)).holder))
      for (const h of new Set(holders)) {
        const s = supplierAt(h)
        await s.api.call('POST', '/supply/earnings')
      }
      const settled = (await chain.getEvents({ fromBlock: chain.deployBlock, contracts: ['market'], eventNames: ['SlotSettled'] })).filter((e) => e.args.dealId === up.id)
      expect(settled.length).to.be.greaterThan(0)
      let paidOut = 0n
      for (const e of settled) {
        expect(e.args.amount).to.equal(deal.pricePerBytePeriod * deal.fragmentSize * (e.args.provenPeriods as bigint))
        paidOut += e.args.amount as bigint
      }
      expect(paidOut).to.be.greaterThan(0n)
      // Cancel: the holders release, the consumer's node finalizes and gets the rest back.
      await ok(user.spec.datadir, ['rm', up.id])
      await until('the deal to be finalized', async () => await chain.market.dealStatus(up.id as Hex) === 'Finalized', 180_000, 1000)
      const refund = (await chain.getEvents({ fromBlock: chain.deployBlock, contracts: ['market'], eventNames: ['DealFinalized'] })).find((e) => e.args.dealId === up.id)
      expect(refund).to.not.equal(undefined)
      const allSettled = (await chain.getEvents({ fromBlock: chain.deployBlock, contracts: ['market'], eventNames: ['SlotSettled'] })).filter((e) => e.args.dealId === up.id)
      const earnedOnDeal = allSettled.reduce((a, e) => a + (e.args.amount as bigint), 0n)
      const after = await chain.token.balanceOf(me)
      // The consumer paid exactly what its holders earned for proven periods; nothing is lost.
      expect(before - after).to.equal(earnedOnDeal)
      const audit = await cli(user.spec.datadir, ['audit'])
      expect(audit.code, audit.stdout).to.equal(0)
      expect((audit.json as { differences: unknown[] }).differences).to.deep.equal([])
    })
  })

  describe('repair', () => {
    it('a supplier that loses a fragment is challenged and slashed; another rebuilds it and collects the bounty', async () => {
      const chain = chainClient()
      const path = await randomFile(join(work, 'repaired.bin'), 700_000)
      const up = await upload(user, path)
      const dealId = up.id as Hex
      const lostSlot = 1
      const loser = (await chain.market.getSlot(dealId, lostSlot)).holder
      const s = supplierAt(loser)
      for (const f of readdirSync(join(s.spec.datadir, 'fragments'))) {
        if (f.startsWith(`${dealId.toLowerCase()}-${lostSlot}.`)) unlinkSync(join(s.spec.datadir, 'fragments', f))
      }
      // The consumer's watch finds it (spot checks, missed periods) and the market frees the slot.
      await takenOver(chain, dealId, lostSlot, loser, async () => await user.api.call('POST', '/files/check'))
      const events = await chain.getEvents({ fromBlock: chain.deployBlock, contracts: ['market'] })
      const freed = events.find((e) => e.eventName === 'SlotFreed' && e.args.dealId === dealId && Number(e.args.index) === lostSlot)
      expect(freed, 'SlotFreed').to.not.equal(undefined)
      expect(String(freed?.args.supplier).toLowerCase()).to.equal(loser.toLowerCase())
      expect(events.some((e) => e.eventName === 'SupplierSlashed' && String(e.args.supplier).toLowerCase() === loser.toLowerCase())).to.equal(true)
      const bounty = events.find((e) => e.eventName === 'RepairBountyPaid' && e.args.dealId === dealId && Number(e.args.index) === lostSlot)
      expect(bounty, 'RepairBountyPaid').to.not.equal(undefined)
      // Healthy again, and the repair shows in the repairer's statement.
      await healthy(dealId)
      const repairer = String(bounty?.args.supplier)
      const ledger = await ok<{ lines: Array<{ event: string }> }>(user.spec.datadir, ['ledger', repairer])
      expect(ledger.lines.map((l) => l.event)).to.include('market.RepairBountyPaid')
      expect(await download(user, up.id, join(work, 'repaired.out'))).to.equal(await sha256File(path))
    })
  })

  describe('failures', () => {
    /** Suppliers a test stopped (SIGSTOP): continued after every test, whatever became of it. */
    const stopped = new Set<number>()
    const resume = (pid: number): void => { if (stopped.delete(pid)) { try { process.kill(pid, 'SIGCONT') } catch { /* gone already */ } } }
    afterEach(() => { for (const pid of [...stopped]) resume(pid) })
    it('a download succeeds with m suppliers killed', async () => {
      const path = await randomFile(join(work, 'survivor.bin'), 2 << 20)
      const up = await upload(user, path)
      const holders = await user.api.call<{ coding: { k: number, m: number } }>('GET', `/files/${up.id}`)
      const m = holders.coding.m
      const held = net.suppliers.filter((s) => readdirSync(join(s.spec.datadir, 'fragments')).some((f) => f.startsWith(up.id.toLowerCase())))
      expect(held.length).to.equal(holders.coding.k + m)
      await Promise.all(held.slice(0, m).map(async (s) => { await net.supervisor.kill(s) }))
      try {
        expect(await download(user, up.id, join(work, 'survivor.out'))).to.equal(await sha256File(path))
      } finally {
        // Later tests need every supplier, whatever happened here.
        for (const s of held.slice(0, m)) {
          const i = net.suppliers.indexOf(s)
          net.suppliers[i] = await net.supervisor.start(s.spec)
        }
      }
    })

    it('the identity restored from its keystore on an empty data directory lists and downloads its files', async () => {
      const mine = await ok<Array<{ id: string, name: string }>>(user.spec.datadir, ['ls'])
      const target = mine.find((f) => f.name === 'one-mib.bin') as { id: string }
      await net.supervisor.kill(user, 'SIGTERM')
      const fresh = join(dir, 'restored')
      mkdirSync(fresh)
      copyFileSync(join(user.spec.datadir, 'keystore.json'), join(fresh, 'keystore.json'))
      const restored = await net.supervisor.start({ ...user.spec, name: 'restored', datadir: fresh })
      try {
        const files = await until('the files to be restored', async () => {
          const list = await ok<Array<{ id: string, name: string }>>(fresh, ['ls'])
          return list.length >= mine.length ? list : undefined
        }, 120_000, 1000)
        expect(files.map((f) => f.name).sort()).to.deep.equal(mine.map((f) => f.name).sort())
        expect(await download(restored, target.id, join(work, 'restored.out'))).to.equal(await sha256File(join(work, 'one-mib.bin')))
      } finally {
        await net.supervisor.kill(restored, 'SIGTERM')
        user = await net.supervisor.start(user.spec)
      }
    })

    interface ResumeJob { state: string, result?: { resumed: boolean, dealId?: string, rolledBack?: string | null } }

    /**
     * Starts uploading `name` (`size` random bytes) and kills the node either while the fragments
     * stream out, before the deal exists ('sending'), or once the deal is open and paid for
     * ('deal-open'); runs `meanwhile` and restarts the node.
     */
    const interruptedUpload = async (name: string, size: number, killWhen: 'sending' | 'deal-open', meanwhile: (path: string) => void | Promise<void> = () => {}, how: 'kill' | 'cancel' = 'kill') => {
      const chain = chainClient()
      const me = user.status.address
      const before = await chain.token.balanceOf(me)
      const path = await randomFile(join(work, name), size)
      // A fragment of an earlier test may still be half-taken at some supplier (its sender was
      // killed, and the supplier drops it only at its idle timeout): only new ones are this upload's.
      const parts = (s: RunningNode): string[] => readdirSync(join(s.spec.datadir, 'fragments')).filter((f) => f.endsWith('.part'))
      const earlier = new Map(net.suppliers.map((s) => [s, new Set(parts(s))]))
      let job = await user.api.call<{ id: string }>('POST', '/files', { path })
      let stalled: RunningNode | undefined
      if (killWhen === 'sending') {
        // Followed by the job's event stream, which carries a change of stage at once: a poll
        // could miss a transfer shorter than its interval on a loaded machine, and then wait for
        // a stage that had come and gone.
        const reachTransfer = async (id: string): Promise<void> => {
          const ac = new AbortController()
          let reached = false
          let timedOut = false
          let stage: unknown = null
          const timer = setTimeout(() => { timedOut = true; ac.abort() }, 120_000)
          try {
            const end = await user.api.follow(id, (j) => {
              stage = j.progress ?? null
              if (j.progress?.stage === 'transfer') { reached = true; ac.abort() }
            }, ac.signal).catch((err: unknown) => { if (ac.signal.aborted) return undefined; throw err })
            if (!reached) throw new Error(timedOut ? `the upload job did not reach its transfer within 120 s, last at ${JSON.stringify(stage)}` : `the upload job ${end?.state ?? '?'} before its transfer`)
          } finally {
            clearTimeout(timer)
          }
        }
        // Right after the earlier tests restarted suppliers (on new ports) and this node, its 30 s
        // wait for offers can end before it has found all of them (a known limit of discovery
        // after restarts): the upload is asked again, as its error tells a person to, up to twice.
        for (let tries = 1; ; tries++) {
          try {
            await reachTransfer(job.id)
            break
          } catch (err) {
            if ((err as Error).name !== 'NotEnoughSuppliersError' || tries === 3) throw err
            job = await user.api.call<{ id: string }>('POST', '/files', { path })
          }
        }
      } else {
        // One supplier of this upload is stopped while it holds the fragment uncommitted (its
        // temp file), so its slot is still free when the node dies after the deal opened.
        stalled = await until('a supplier to be taking in a fragment', async () => net.suppliers.find((s) => parts(s).some((f) => earlier.get(s)?.has(f) !== true)), 120_000, 20)
        stopped.add(stalled.child.pid as number)
        process.kill(stalled.child.pid as number, 'SIGSTOP')
        // openDeal takes the escrow in the same transaction. The pass over the file waits for
        // the stopped supplier until its put times out, then goes on without it.
        await until('the deal to be paid for', async () => {
          if (await chain.token.balanceOf(me) < before) return true
          const j = await user.api.call<{ state: string, progress?: unknown, error?: { message: string } }>('GET', `/jobs/${job.id}`)
          throw new Error(`the upload job is ${j.state} at ${JSON.stringify(j.progress ?? null)}${j.error !== undefined ? `: ${j.error.message}` : ''}`)
        }, 240_000, 100)
      }
      let cancelled: { state: string, error?: { name: string, message: string } } | undefined
      if (how === 'cancel') {
        // What Ctrl-C on `bitdust upload` asks of the node.
        await user.api.call('DELETE', `/jobs/${job.id}`)
        cancelled = await until('the cancelled job to end', async () => {
          const j = await user.api.call<{ state: string, error?: { name: string, message: string } }>('GET', `/jobs/${job.id}`)
          return j.state !== 'running' ? j : undefined
        }, 120_000, 200)
        if (stalled !== undefined) resume(stalled.child.pid as number)
      } else {
        await net.supervisor.kill(user)
        await meanwhile(path)
        user = await net.supervisor.start(user.spec)
      }
      const resumeJob = async (): Promise<ResumeJob> => {
        try {
          return await until('the resume job to end', async () => {
            const jobs = await user.api.call<Array<ResumeJob & { kind: string }>>('GET', '/jobs')
            const r = jobs.find((j) => j.kind === 'resume-upload')
            return r !== undefined && r.state !== 'running' ? r : undefined
          }, 300_000, 1000)
        } finally {
          if (stalled !== undefined) resume(stalled.child.pid as number)
        }
      }
      const balance = async (): Promise<bigint> => await chain.token.balanceOf(me)
      /**
       * A rolled-back deal is finalized once its holders released, and the consumer is out only
       * what holders that had filled their slots earned meanwhile; audit finds no difference.
       */
      const rolledBack = async (dealId: string): Promise<void> => {
        await until('the rolled-back deal to be finalized', async () => await chain.market.dealStatus(dealId as Hex) === 'Finalized', 300_000, 1000)
        const settled = (await chain.getEvents({ fromBlock: chain.deployBlock, contracts: ['market'], eventNames: ['SlotSettled'] })).filter((e) => e.args.dealId === dealId)
        const earned = settled.reduce((a, e) => a + (e.args.amount as bigint), 0n)
        expect(before - await balance()).to.equal(earned)
        const audit = await cli(user.spec.datadir, ['audit'])
        expect(audit.code, audit.stdout).to.equal(0)
      }
      return { path, resumeJob, rolledBack, balance, before, cancelled }
    }

    it('a node killed while its fragments stream out, before the deal opened, has paid nothing and leaves nothing pending', async () => {
      const { balance, before } = await interruptedUpload('unsent.bin', 48 << 20, 'sending')
      expect(await balance()).to.equal(before)
      const jobs = await user.api.call<Array<{ kind: string }>>('GET', '/jobs')
      expect(jobs.map((j) => j.kind)).to.not.include('resume-upload')
      const files = await ok<Array<{ name: string }>>(user.spec.datadir, ['ls'])
      expect(files.map((f) => f.name)).to.not.include('unsent.bin')
    })

    it('a node killed after its deal opened, with a slot still free, resumes the upload after restart', async () => {
      const { path, resumeJob } = await interruptedUpload('interrupted.bin', 48 << 20, 'deal-open')
      const resume = await resumeJob()
      expect(resume.state).to.equal('done')
      expect(resume.result?.resumed).to.equal(true)
      const files = await ok<Array<{ id: string, name: string, health: string }>>(user.spec.datadir, ['ls'])
      const f = files.find((x) => x.name === 'interrupted.bin')
      expect(f?.health).to.equal('healthy')
      expect(await download(user, f?.id as string, join(work, 'interrupted.out'))).to.equal(await sha256File(path))
    })

    it('an upload the user cancels after its deal opened is rolled back at once, not resumed; the consumer pays only what holders earned', async () => {
      const { cancelled, rolledBack } = await interruptedUpload('cancelled.bin', 48 << 20, 'deal-open', undefined, 'cancel')
      expect(cancelled?.state).to.equal('cancelled')
      expect(cancelled?.error?.name).to.equal('JobCancelledError')
      const dealId = /deal (0x[0-9a-f]{64}) was cancelled/.exec(cancelled?.error?.message ?? '')?.[1]
      expect(dealId, cancelled?.error?.message).to.be.a('string')
      await rolledBack(dealId as string)
      const files = await ok<Array<{ name: string }>>(user.spec.datadir, ['ls'])
      expect(files.map((f) => f.name)).to.not.include('cancelled.bin')
      // Nothing left to resume: a restart starts no resume job.
      await net.supervisor.kill(user)
      user = await net.supervisor.start(user.spec)
      const jobs = await user.api.call<Array<{ kind: string }>>('GET', '/jobs')
      expect(jobs.map((j) => j.kind)).to.not.include('resume-upload')
    })

    it('an interrupted upload whose file changed meanwhile is rolled back after restart; the consumer pays only what holders earned', async () => {
      // The deal commits to roots of the old bytes and a slot is still free: a resumed upload
      // would send fragments no supplier accepts, so the node cancels the deal instead, and
      // finalizes it once the holders that had filled their slots released them.
      const { resumeJob, rolledBack } = await interruptedUpload('changed.bin', 96 << 20, 'deal-open', (path) => { appendFileSync(path, 'changed') })
      const resume = await resumeJob()
      expect(resume.state).to.equal('done')
      expect(resume.result?.resumed).to.equal(false)
      expect(resume.result?.rolledBack).to.match(/^0x[0-9a-f]{64}$/)
      const files = await ok<Array<{ name: string }>>(user.spec.datadir, ['ls'])
      expect(files.map((f) => f.name)).to.not.include('changed.bin')
      await rolledBack(resume.result?.rolledBack as string)
    })
  })

  // Last: the supplier that leaves is away until it stakes again, which the test checks too.
  describe('a supplier leaving', () => {
    it('`supply leave --now` gives up its slots for their collateral; another supplier rebuilds them for it; its stake comes back to its wallet', async () => {
      const chain = chainClient()
      const path = await randomFile(join(work, 'left.bin'), 600_000)
      const up = await upload(user, path)
      const dealId = up.id as Hex
      // On every one of the seven suppliers: no one is left to rebuild the leaver's fragment of it.
      const widePath = await randomFile(join(work, 'wide.bin'), 500_000)
      const wide = await upload(user, widePath, ['--k', '5', '--m', '2'])
      const leaverAddress = (await chain.market.getSlot(dealId, 0)).holder
      const leaver = supplierAt(leaverAddress)
      const walletBefore = await chain.token.balanceOf(leaverAddress)
      const fromBlock = await chain.blockNumber()
      const staked = (await chain.staking.stakeInfo(leaverAddress)).staked
      const r = await ok<{ left: Array<{ dealId: string, index: number, forfeited: string }>, kept: Array<{ reason: string }>, summary: string[] }>(leaver.spec.datadir, ['supply', 'leave', '--now'])
      const mine = r.left.find((l) => l.dealId.toLowerCase() === dealId.toLowerCase() && l.index === 0)
      expect(mine, r.summary.join('\n')).to.not.equal(undefined)
      const deal = await chain.market.getDeal(dealId)
      expect(BigInt(mine?.forfeited ?? 0)).to.equal(deal.fragmentSize * deal.collateralPerByte)
      expect(r.kept.filter((k) => k.reason === 'running'), r.summary.join('\n')).to.deep.equal([])
      expect(r.summary.join('\n')).to.match(/collateral forfeited/)
      // Nothing of it left on the leaver's disk, and it takes nothing new.
      const st = await leaver.api.call<{ supplier: { slots: number, quota: number, leaving?: boolean } }>('GET', '/status')
      expect([st.supplier.slots, st.supplier.quota, st.supplier.leaving]).to.deep.equal([0, 0, true])
      expect(readdirSync(join(leaver.spec.datadir, 'fragments')).filter((f) => f.startsWith(`${dealId.toLowerCase()}-0.`))).to.deep.equal([])
      const later = await upload(user, await randomFile(join(work, 'after-leave.bin'), 300_000))
      const laterHolders = await Promise.all(Array.from({ length: 6 }, async (_, i) => (await chain.market.getSlot(later.id as Hex, i)).holder.toLowerCase()))
      expect(laterHolders).to.not.include(leaverAddress.toLowerCase())
      // Another supplier rebuilds the fragment from k others and collects the bounty the collateral paid for.
      const repairer = await takenOver(chain, dealId, 0, leaverAddress)
      const events = await chain.getEvents({ fromBlock: chain.deployBlock, contracts: ['market'] })
      const freed = events.find((e) => e.eventName === 'SlotFreed' && e.args.dealId === dealId && Number(e.args.index) === 0)
      expect([String(freed?.args.supplier).toLowerCase(), Number(freed?.args.reason)]).to.deep.equal([leaverAddress.toLowerCase(), 2])
      expect(events.some((e) => e.eventName === 'SupplierSlashed' && e.args.dealId === dealId && e.args.reason === 'left')).to.equal(true)
      const bounty = events.find((e) => e.eventName === 'RepairBountyPaid' && e.args.dealId === dealId && Number(e.args.index) === 0)
      expect(String(bounty?.args.supplier).toLowerCase()).to.equal(repairer.toLowerCase())
      await healthy(dealId)
      expect(await download(user, up.id, join(work, 'left.out'))).to.equal(await sha256File(path))
      // The stake unbonds and the leaver's node withdraws it: all of it but the forfeited collateral.
      // (On a loaded machine it may also have missed a period proof meanwhile: that slash is in the events too.)
      const forfeited = r.left.reduce((a, l) => a + BigInt(l.forfeited), 0n)
      await until('the leaver\'s stake to be withdrawn', async () => (await chain.staking.stakeInfo(leaverAddress)).staked === 0n, 300_000, 2000)
      const slashes = (await chain.getEvents({ fromBlock, contracts: ['market'], eventNames: ['SupplierSlashed'], where: { supplier: leaverAddress } }))
        .filter((e) => String(e.args.supplier).toLowerCase() === leaverAddress.toLowerCase())
      expect(slashes.filter((e) => e.args.reason === 'left').reduce((a, e) => a + (e.args.amount as bigint), 0n)).to.equal(forfeited)
      const slashed = slashes.reduce((a, e) => a + (e.args.amount as bigint), 0n)
      expect(await chain.token.balanceOf(leaverAddress) - walletBefore).to.equal(staked - slashed)
      const ledger = await ok<{ lines: Array<{ event: string, detail: string }> }>(user.spec.datadir, ['ledger', leaverAddress])
      expect(ledger.lines.some((l) => l.event === 'market.SlotFreed' && /left .* early/.test(l.detail))).to.equal(true)
      const audit = await cli(user.spec.datadir, ['audit'])
      expect(audit.code, audit.stdout).to.equal(0)
      // A restart keeps it out (config.json), and staking again brings it back.
      await net.supervisor.kill(leaver)
      const restarted = await net.supervisor.start(leaver.spec)
      net.suppliers[net.suppliers.indexOf(leaver)] = restarted
      expect((await chain.staking.stakeInfo(leaverAddress)).staked).to.equal(0n)
      expect((await restarted.api.call<{ supplier: { quota: number, leaving?: boolean } }>('GET', '/status')).supplier.leaving).to.equal(true)
      const wideFreed = r.left.find((l) => l.dealId.toLowerCase() === wide.id.toLowerCase())
      expect(wideFreed, 'the leaver held a fragment of the file on all seven').to.not.equal(undefined)
      expect((await chain.market.getSlot(wide.id as Hex, wideFreed?.index as number)).holder).to.equal('0x0000000000000000000000000000000000000000')
      const back = await ok<{ back?: boolean }>(restarted.spec.datadir, ['supply', 'stake', String(10n ** 21n)])
      expect(back.back).to.equal(true)
      const after = await restarted.api.call<{ supplier: { quota: number, leaving?: boolean } }>('GET', '/status')
      expect(after.supplier.leaving).to.equal(undefined)
      expect(after.supplier.quota).to.be.greaterThan(0)
      // Back, it finds the slot nobody could repair while it was away, and repairs it for the bounty.
      await until('the wide file\'s freed slot to be repaired', async () => (await chain.market.getSlot(wide.id as Hex, wideFreed?.index as number)).holder.toLowerCase() === leaverAddress.toLowerCase(), 300_000, 1000)
      await healthy(wide.id)
      expect(await download(user, wide.id, join(work, 'wide.out'))).to.equal(await sha256File(widePath))
    })
  })

  describe('a supplier leaving gently', () => {
    it('`supply leave` keeps a slot of a deal its owner extended until the term it took is over, then leaves it with its collateral; another supplier takes it over', async () => {
      const chain = chainClient()
      const path = await randomFile(join(work, 'extended.bin'), 300_000)
      const up = await upload(user, path, ['--periods', '4'])
      const dealId = up.id as Hex
      await ok(user.spec.datadir, ['renew', up.id, '--periods', '200'])
      const deal = await chain.market.getDeal(dealId)
      expect(deal.endPeriod - deal.boundUntil).to.equal(200)
      const leaverAddress = (await chain.market.getSlot(dealId, 0)).holder
      const leaver = supplierAt(leaverAddress)
      const fromBlock = await chain.blockNumber()
      try {
        const r = await ok<{ left: Array<{ dealId: string, forfeited: string }>, kept: Array<{ dealId: string, index: number, reason: string, freeFrom?: number }>, summary: string[] }>(leaver.spec.datadir, ['supply', 'leave'])
        // Left at once only what costs nothing: slots of deals extended past their first term (in the
        // whole suite, the renew test's file).
        expect(r.left.filter((l) => l.dealId.toLowerCase() === dealId.toLowerCase())).to.deep.equal([])
        for (const l of r.left) expect(l.forfeited).to.equal('0')
        const mine = r.kept.find((k) => k.dealId.toLowerCase() === dealId.toLowerCase() && k.index === 0)
        expect([mine?.reason, mine?.freeFrom], r.summary.join('\n')).to.deep.equal(['running', deal.boundUntil])
        expect(r.summary.join('\n')).to.match(/extended the deal; your node leaves it with its collateral once the term it started with is over/)
        // Once that term is over the leaver's node gives the slot up, collateral back, nothing slashed.
        const freed = await until('the leaver to leave the slot', async () => {
          const events = await chain.getEvents({ fromBlock, contracts: ['market'], eventNames: ['SlotFreed'], where: { supplier: leaverAddress } })
          return events.find((e) => e.args.dealId === dealId && Number(e.args.index) === 0)
        }, 400_000, 2000)
        expect([Number(freed?.args.reason), freed?.args.slashed]).to.deep.equal([2, 0n])
        expect(await chain.market.currentPeriod()).to.be.at.least(BigInt(deal.boundUntil))
        const slashed = await chain.getEvents({ fromBlock, contracts: ['market'], eventNames: ['SupplierSlashed'], where: { supplier: leaverAddress } })
        expect(slashed.filter((e) => e.args.dealId === dealId)).to.deep.equal([])
        await takenOver(chain, dealId, 0, leaverAddress)
        await healthy(dealId)
        expect(await download(user, up.id, join(work, 'extended.out'))).to.equal(await sha256File(path))
      } finally {
        // The later tests need it: staking again brings it back.
        expect((await ok<{ back?: boolean }>(leaver.spec.datadir, ['supply', 'stake', String(10n ** 21n)])).back).to.equal(true)
      }
    })
  })

  // Last of all: the supplier that stops here is jailed for good.
  describe('nobody minding', () => {
    it('a supplier gone while its consumer is offline too: the other suppliers mark its misses until it is jailed, and repair its slots', async () => {
      const chain = chainClient()
      const path = await randomFile(join(work, 'unminded.bin'), 400_000)
      const up = await upload(user, path)
      const dealId = up.id as Hex
      const goneAddress = (await chain.market.getSlot(dealId, 0)).holder
      const gone = supplierAt(goneAddress)
      const fromBlock = await chain.blockNumber()
      // Every consumer's node is stopped: the owner's, and those of earlier tests (whose keepers
      // would mark misses of their own holders).
      for (const n of net.supervisor.nodes.filter((x) => x.spec.role === 'user' && x.child.exitCode === null && x.child.signalCode === null)) await net.supervisor.kill(n)
      await net.supervisor.kill(gone)
      const jailed = await until('the gone supplier to be jailed', async () => {
        const events = await chain.getEvents({ fromBlock, contracts: ['market'], eventNames: ['SupplierJailed'], where: { supplier: goneAddress } })
        return events.find((e) => String(e.args.supplier).toLowerCase() === goneAddress.toLowerCase())
      }, 400_000, 2000)
      expect(jailed).to.not.equal(undefined)
      // Marked by suppliers, for the marker's share of each slash: no consumer was there.
      const misses = (await chain.getEvents({ fromBlock, contracts: ['market'], eventNames: ['PeriodMissed'], where: { supplier: goneAddress } }))
        .filter((e) => String(e.args.supplier).toLowerCase() === goneAddress.toLowerCase())
      expect(misses.length).to.be.at.least(3)
      const suppliers = new Set(net.suppliers.map((x) => x.status.address.toLowerCase()))
      for (const e of misses) expect(suppliers.has(String(e.args.marker).toLowerCase()), String(e.args.marker)).to.equal(true)
      const counted = await Promise.all(net.suppliers.filter((x) => x !== gone).map(async (x) => (await x.api.call<{ supplier: { missesMarked: number } }>('GET', '/status')).supplier.missesMarked))
      expect(counted.reduce((a, b) => a + b, 0)).to.be.at.least(misses.length, '`status` counts the misses each supplier marked')
      // Its slot of the file goes to another supplier, which rebuilt the fragment from k others.
      const repairer = await takenOver(chain, dealId, 0, goneAddress)
      expect(suppliers.has(repairer.toLowerCase())).to.equal(true)
      // The consumer comes back to a healthy file.
      user = await net.supervisor.start(user.spec)
      await healthy(dealId)
      expect(await download(user, up.id, join(work, 'unminded.out'))).to.equal(await sha256File(path))
      const audit = await cli(user.spec.datadir, ['audit'])
      expect(audit.code, audit.stdout).to.equal(0)
    })
  })
})

