/**
 * ABIs and bytecode of the BitDust contracts, read from Hardhat's compile output
 * (`artifacts/contracts/<path>/<Name>.sol/<Name>.json`).
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Abi, Hex } from 'viem'
import { log } from '../log.ts'
import { ArtifactMissingError, CompileFailedError } from './errors.ts'

const debug = log('chain:artifacts')

/** Repository root (where hardhat.config.ts lives). */
export const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..')

export interface Artifact {
  contractName: string
  sourceName: string
  abi: Abi
  bytecode: Hex
}

export interface ArtifactOptions {
  /** Project root holding `artifacts/` and `contracts/`; default: this repository. */
  root?: string
}

function walk (dir: string, match: (file: string) => boolean, out: string[] = []): string[] {
  if (!existsSync(dir)) return out
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name)
    if (entry.isDirectory()) walk(full, match, out)
    else if (match(entry.name)) out.push(full)
  }
  return out
}

/**
 * The artifact of the contract named `name`. Contracts under `contracts/mocks` and test files
 * never shadow the real ones: a name found in several sources must be given as `path/File.sol:Name`.
 */
export function loadArtifact (name: string, options: ArtifactOptions = {}): Artifact {
  const root = options.root ?? PROJECT_ROOT
  const dir = join(root, 'artifacts', 'contracts')
  const [source, contract] = name.includes(':') ? name.split(':') as [string, string] : [undefined, name]
  type Json = { contractName: string, sourceName: string, abi: Abi, bytecode: string }
  const found = walk(dir, (f) => f === `${contract}.json`)
    .map((file) => ({ file, json: JSON.parse(readFileSync(file, 'utf8')) as Json }))
    .filter(({ json }) => source === undefined || json.sourceName.endsWith(source))
  const preferred = found.length > 1 ? found.filter(({ json }) => !/(^|\/)(mocks|test)\//.test(json.sourceName)) : found
  if (preferred.length === 0) throw new ArtifactMissingError(name, dir)
  if (preferred.length > 1) {
    throw new ArtifactMissingError(`${name} (ambiguous: ${preferred.map(({ json }) => json.sourceName).join(', ')}; name it as Source.sol:${contract})`, dir)
  }
  const { json } = preferred[0] as { json: Json }
  return { contractName: json.contractName, sourceName: json.sourceName, abi: json.abi, bytecode: json.bytecode as Hex }
}

/**
 * Whether a Solidity source changed after the last compile (or there is no output). Hardhat
 * compiles incrementally and rewrites only what changed, so the newest output is the last compile.
 */
export function needsCompile (options: ArtifactOptions = {}): boolean {
  const root = options.root ?? PROJECT_ROOT
  const outputs = walk(join(root, 'artifacts'), (f) => f.endsWith('.json'))
  if (!outputs.some((f) => f.includes(`${join('artifacts', 'contracts')}`))) return true
  const newestOut = Math.max(...outputs.map((f) => statSync(f).mtimeMs))
  const newestSrc = Math.max(0, ...walk(join(root, 'contracts'), (f) => f.endsWith('.sol')).map((f) => statSync(f).mtimeMs))
  return newestSrc > newestOut
}

/** Runs `npx hardhat compile` when the artifacts are missing or older than the sources. */
export async function ensureCompiled (options: ArtifactOptions & { force?: boolean } = {}): Promise<void> {
  const root = options.root ?? PROJECT_ROOT
  if (options.force !== true && !needsCompile({ root })) return
  debug('compiling contracts in %s', root)
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn('npx', ['hardhat', 'compile', '--quiet'], {
      cwd: root,
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: 'true', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (b: Buffer) => { output += b.toString() })
    child.stderr.on('data', (b: Buffer) => { output += b.toString() })
    child.on('error', (err) => reject(new CompileFailedError(err.message)))
    child.on('close', (code) => { code === 0 ? resolvePromise() : reject(new CompileFailedError(output)) })
  })
}

/**
 * The one deployable (non-abstract) contract compiled from `contracts/<folder>/`, or the one named
 * `preferred` among several. Lets deployment follow the implementation's name without a hard-wired list.
 */
export function findDeployable (folder: string, preferred: string[] = [], options: ArtifactOptions = {}): Artifact {
  const root = options.root ?? PROJECT_ROOT
  const dir = join(root, 'artifacts', 'contracts', folder)
  const all = walk(dir, (f) => f.endsWith('.json'))
    .map((file) => JSON.parse(readFileSync(file, 'utf8')) as { contractName?: string, sourceName?: string, abi?: Abi, bytecode?: string })
    .filter((j) => typeof j.contractName === 'string' && typeof j.bytecode === 'string' && j.bytecode.length > 2)
    .map((j) => ({ contractName: j.contractName as string, sourceName: j.sourceName as string, abi: j.abi as Abi, bytecode: j.bytecode as Hex }))
  const named = all.filter((a) => preferred.includes(a.contractName))
  const pick = named.length > 0 ? named : all
  if (pick.length === 1) return pick[0] as Artifact
  if (pick.length === 0) throw new ArtifactMissingError(`in contracts/${folder}/ (a deployable contract)`, dir)
  throw new ArtifactMissingError(`in contracts/${folder}/: several candidates (${pick.map((a) => a.contractName).join(', ')}); pass the name to deploy`, dir)
}

/** Every artifact under artifacts/contracts/<folder>/ (for collecting custom errors). */
export function loadAll (folder: string, options: ArtifactOptions = {}): Artifact[] {
  const root = options.root ?? PROJECT_ROOT
  return walk(join(root, 'artifacts', 'contracts', folder), (f) => f.endsWith('.json'))
    .map((file) => JSON.parse(readFileSync(file, 'utf8')) as Partial<Artifact>)
    .filter((j) => typeof j.contractName === 'string' && Array.isArray(j.abi))
    .map((j) => ({ contractName: j.contractName as string, sourceName: j.sourceName as string, abi: j.abi as Abi, bytecode: (j.bytecode ?? '0x') as Hex }))
}
