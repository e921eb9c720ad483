/**
 * The whole system on loopback: a real EVM chain (Hardhat's EDR) with the real contracts, a relay,
 * eight suppliers and the user's node as separate processes, driven through the CLI and the API
 * like a person or a script would.
 */
import { expect } from 'chai'
import { mkdtempSync, rmSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startDevnet } from '../../../node/devnet/index.ts'
import type { Devnet } from '../../../node/devnet/index.ts'
import type { RunningNode } from '../../../node/devnet/processes.ts'
import { cli, ok, randomFile, sha256File, until } from './helpers.ts'

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
    net = await startDevnet({ datadir: join(dir, 'user'), suppliers: 8, blockTimeMs: 500, passphrase: PASS, env: { BITDUST_WATCH_MS: '2000' } })
    user = net.user as RunningNode
  })

  after(async () => {
    await net?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const upload = async (node: RunningNode, path: string, extra: string[] = []): Promise<{ id: string, name: string, size: number }> =>
    await ok(node.spec.datadir, ['upload', path, ...extra], { BITDUST_PASSPHRASE: PASS })

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

    it('lists files with their health', async () => {
      const files = await ok<Array<{ name: string, health: string, held: number, slots: number }>>(user.spec.datadir, ['ls'])
      expect(files.map((f) => f.name)).to.include.members(['empty.bin', 'one-mib.bin', 'фото été 📷.bin'])
      for (const f of files) {
        expect(f.health).to.equal('healthy')
        expect(f.held).to.equal(f.slots)
      }
    })

    it('explains a missing file instead of failing obscurely', async () => {
      const r = await cli(user.spec.datadir, ['upload', join(work, 'does-not-exist')])
      expect(r.code).to.equal(1)
      expect((r.json as { error: { message: string } }).error.message).to.match(/is not a file that can be read/)
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
      net.supervisor.kill(friend)
      await until('the friend to be gone', async () => friend.child.exitCode !== null || friend.child.signalCode !== null)
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

  describe('failures', () => {
    it('a download succeeds with m suppliers killed', async () => {
      const path = await randomFile(join(work, 'survivor.bin'), 2 << 20)
      const up = await upload(user, path)
      const holders = await user.api.call<{ coding: { k: number, m: number } }>('GET', `/files/${up.id}`)
      const m = holders.coding.m
      const held = net.suppliers.filter((s) => readdirSync(join(s.spec.datadir, 'fragments')).some((f) => f.startsWith(up.id.toLowerCase())))
      expect(held.length).to.equal(holders.coding.k + m)
      for (const s of held.slice(0, m)) net.supervisor.kill(s)
      expect(await download(user, up.id, join(work, 'survivor.out'))).to.equal(await sha256File(path))
      for (const s of held.slice(0, m)) {
        const i = net.suppliers.indexOf(s)
        net.suppliers[i] = await net.supervisor.start(s.spec)
      }
    })
  })
})

