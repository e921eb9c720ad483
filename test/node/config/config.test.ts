import { expect } from 'chai'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { amount, loadConfig } from '../../../node/config/index.ts'

const profile = {
  name: 'testnet',
  rpcUrl: 'http://127.0.0.1:8545',
  chainId: 31337,
  contracts: { token: '0x' + '11'.repeat(20), staking: '0x' + '22'.repeat(20), market: '0x' + '33'.repeat(20) },
  deployBlock: 7,
  bootstrap: ['/ip4/127.0.0.1/tcp/4001/p2p/QmX'],
}

describe('config', () => {
  let dir: string
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'bitdust-config-')) })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  it('uses defaults when nothing is configured', () => {
    const c = loadConfig({ datadir: dir, env: {} })
    expect(c.datadir).to.equal(dir)
    expect(c.network).to.equal(undefined)
    expect(c.api.host).to.equal('127.0.0.1')
    expect(c.supply.enabled).to.equal(false)
    expect(c.k).to.equal(4)
    expect(c.periods).to.equal(100)
    expect(c.autoRenew).to.equal(true)
  })

  it('turns automatic renewal off from the file or BITDUST_AUTO_RENEW', () => {
    expect(loadConfig({ datadir: dir, env: { BITDUST_AUTO_RENEW: 'false' } }).autoRenew).to.equal(false)
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ autoRenew: false }))
    expect(loadConfig({ datadir: dir, env: {} }).autoRenew).to.equal(false)
    expect(() => loadConfig({ datadir: dir, env: { BITDUST_AUTO_RENEW: 'maybe' } })).to.throw(/not a yes\/no value/)
  })

  it('a supplier watches others and is not leaving unless told; `supply leave` is kept in the file', () => {
    const c = loadConfig({ datadir: dir, env: {} })
    expect([c.supply.watch, c.supply.leaving]).to.deep.equal([true, false])
    expect(loadConfig({ datadir: dir, env: { BITDUST_WATCH: 'off' } }).supply.watch).to.equal(false)
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ leaving: true, watch: false }))
    const f = loadConfig({ datadir: dir, env: {} })
    expect([f.supply.watch, f.supply.leaving]).to.deep.equal([false, true])
  })

  it('takes the default term of an upload from the file or BITDUST_PERIODS, never 0', () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ periods: 365 }))
    expect(loadConfig({ datadir: dir, env: {} }).periods).to.equal(365)
    expect(loadConfig({ datadir: dir, env: { BITDUST_PERIODS: '30240' } }).periods).to.equal(30_240)
    expect(() => loadConfig({ datadir: dir, env: { BITDUST_PERIODS: '0' } })).to.throw(/periods must be at least 1/)
  })

  it('layers file < environment < flags', () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ k: 3, m: 1, quota: '1GiB', supply: true }))
    const c = loadConfig({ datadir: dir, env: { BITDUST_M: '2', BITDUST_QUOTA: '2GiB' }, flags: { quota: '5MiB' } })
    expect(c.k).to.equal(3)
    expect(c.m).to.equal(2)
    expect(c.supply.enabled).to.equal(true)
    expect(c.supply.quota).to.equal(5n * 2n ** 20n)
  })

  it('reads network.json and lets the environment override single fields', () => {
    writeFileSync(join(dir, 'network.json'), JSON.stringify(profile))
    const c = loadConfig({ datadir: dir, env: { BITDUST_RPC_URL: 'https://rpc.example.org', BITDUST_BOOTSTRAP: '/dns4/a/tcp/1,/dns4/b/tcp/2' } })
    expect(c.network?.rpcUrl).to.equal('https://rpc.example.org')
    expect(c.network?.chainId).to.equal(31337)
    expect(c.network?.deployBlock).to.equal(7)
    expect(c.network?.bootstrap).to.deep.equal(['/dns4/a/tcp/1', '/dns4/b/tcp/2'])
  })

  it('rejects a profile without contract addresses, naming the field', () => {
    writeFileSync(join(dir, 'network.json'), JSON.stringify({ ...profile, contracts: { token: '0x12' } }))
    expect(() => loadConfig({ datadir: dir, env: {} })).to.throw(/contracts\.token/).with.property('name', 'ConfigError')
  })

  it('rejects broken JSON with the file name and bad numbers with the setting name', () => {
    writeFileSync(join(dir, 'config.json'), '{ nope')
    expect(() => loadConfig({ datadir: dir, env: {} })).to.throw(/config\.json is not valid JSON/)
    rmSync(join(dir, 'config.json'))
    expect(() => loadConfig({ datadir: dir, env: { BITDUST_K: '-1' } })).to.throw(/k must be/)
    expect(() => loadConfig({ datadir: dir, env: { BITDUST_SUPPLY: 'maybe' } })).to.throw(/yes\/no/)
  })

  it('takes a CPU niceness from 0 to 19 and names the setting when it is out of range', () => {
    expect(loadConfig({ datadir: dir, env: {} }).nice).to.equal(0)
    expect(loadConfig({ datadir: dir, env: { BITDUST_NICE: '5' }, flags: { nice: '10' } }).nice).to.equal(10)
    expect(() => loadConfig({ datadir: dir, env: { BITDUST_NICE: '20' } })).to.throw(/nice must be from 0 .* to 19/).with.property('name', 'ConfigError')
    expect(() => loadConfig({ datadir: dir, env: { BITDUST_NICE: '-5' } })).to.throw(/nice must be/)
  })

  it('parses amounts as bigints with binary suffixes and never fractions', () => {
    expect(amount('10GiB', 'q')).to.equal(10n * 2n ** 30n)
    expect(amount('123456789012345678901234567890', 'q')).to.equal(123456789012345678901234567890n)
    expect(() => amount('1.5', 'q')).to.throw(/whole number/)
  })
})
