import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'chai'
import { loadArtifact, needsCompile } from '../../../node/chain/artifacts.ts'

function put (root: string, source: string, name: string): void {
  mkdirSync(join(root, 'artifacts', source), { recursive: true })
  writeFileSync(join(root, 'artifacts', source, `${name}.json`), JSON.stringify({ contractName: name, sourceName: source, abi: [{ type: 'function', name: 'f', inputs: [], outputs: [], stateMutability: 'view' }], bytecode: '0x6000' }))
}

describe('chain: artifacts', function () {
  let root: string
  beforeEach(function () { root = mkdtempSync(join(tmpdir(), 'bitdust-artifacts-')) })
  afterEach(function () { rmSync(root, { recursive: true, force: true }) })

  it('loads ABI and bytecode by contract name', function () {
    put(root, 'contracts/token/Token.sol', 'Token')
    const a = loadArtifact('Token', { root })
    expect(a.contractName).to.equal('Token')
    expect(a.bytecode).to.equal('0x6000')
    expect(a.abi).to.have.length(1)
  })

  it('prefers the real contract over a mock of the same name, and takes Source.sol:Name', function () {
    put(root, 'contracts/token/Token.sol', 'Token')
    put(root, 'contracts/mocks/Token.sol', 'Token')
    expect(loadArtifact('Token', { root }).sourceName).to.equal('contracts/token/Token.sol')
    expect(loadArtifact('mocks/Token.sol:Token', { root }).sourceName).to.equal('contracts/mocks/Token.sol')
  })

  it('rejects a missing artifact with an error that says to compile', function () {
    expect(() => loadArtifact('Market', { root })).to.throw(/npx hardhat compile/).with.property('name', 'ArtifactMissingError')
  })

  it('knows when sources are newer than the artifacts', function () {
    expect(needsCompile({ root })).to.equal(true)
    mkdirSync(join(root, 'contracts'), { recursive: true })
    writeFileSync(join(root, 'contracts', 'Token.sol'), '// source')
    put(root, 'contracts/Token.sol', 'Token')
    const past = new Date(Date.now() - 60_000)
    utimesSync(join(root, 'contracts', 'Token.sol'), past, past)
    expect(needsCompile({ root })).to.equal(false)
    const future = new Date(Date.now() + 60_000)
    utimesSync(join(root, 'contracts', 'Token.sol'), future, future)
    expect(needsCompile({ root })).to.equal(true)
  })
})

describe('chain: artifacts, compile on demand', function () {
  this.timeout(120_000)
  it('compiles when needed and then finds the BitDust contracts', async function () {
    const { ensureCompiled, findDeployable } = await import('../../../node/chain/artifacts.ts')
    await ensureCompiled()
    expect(findDeployable('market').contractName).to.equal('Market')
    expect(findDeployable('token').bytecode.length).to.be.greaterThan(2)
  })
})
