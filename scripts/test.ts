/**
 * `npm test`: type-check, then every suite (contracts with Solidity fuzz tests, node unit tests,
 * end-to-end tests), and one closing line `N passed, N failed` that CI reads.
 * Each phase runs in its own process so a crash in one still lets the others report.
 * `npm test -- node e2e` runs only the named phases.
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'

interface Phase { name: string, cmd: string, args: string[], counts: 'mocha' | 'exit', dir?: string }

const env = { ...process.env, HARDHAT_DISABLE_TELEMETRY: 'true', FORCE_COLOR: '0' }
const only = process.argv.slice(2)

const phases: Phase[] = [
  { name: 'compile', cmd: 'npx', args: ['hardhat', 'compile', '--quiet'], counts: 'exit' },
  { name: 'typecheck', cmd: 'npm', args: ['run', '--silent', 'typecheck'], counts: 'exit' },
  { name: 'contracts', cmd: 'npx', args: ['hardhat', 'test'], counts: 'mocha' },
  { name: 'node', cmd: 'npx', args: ['mocha', 'test/node/**/*.test.ts'], counts: 'mocha', dir: 'test/node' },
  { name: 'e2e', cmd: 'npx', args: ['mocha', '--timeout', '900000', 'test/e2e/**/*.test.ts'], counts: 'mocha', dir: 'test/e2e' },
]

function hasTests (dir: string): boolean {
  if (!existsSync(dir)) return false
  return readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith('.test.ts'))
}

function run (phase: Phase): Promise<{ code: number, out: string }> {
  return new Promise((resolve) => {
    const child = spawn(phase.cmd, phase.args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const tee = (sink: NodeJS.WriteStream) => (b: Buffer) => { out += b.toString(); sink.write(b) }
    child.stdout.on('data', tee(process.stdout))
    child.stderr.on('data', tee(process.stderr))
    child.on('close', (code) => resolve({ code: code ?? 1, out }))
  })
}

/** The last `N passing` / `N failing` line: hardhat prints per-runner lines first, then the total. */
function lastCount (out: string, word: string): number | undefined {
  const all = [...out.matchAll(new RegExp(`^\\s*(\\d+) ${word}\\b`, 'gm'))]
  const last = all.at(-1)
  return last ? Number(last[1]) : undefined
}

let passed = 0
let failed = 0
for (const phase of phases) {
  if (only.length > 0 && !only.includes(phase.name)) continue
  if (phase.dir && !hasTests(phase.dir)) continue
  process.stdout.write(`\n=== ${phase.name} ===\n`)
  const { code, out } = await run(phase)
  if (phase.counts === 'exit') {
    if (code !== 0) failed += 1
    continue
  }
  const p = lastCount(out, 'passing')
  const f = lastCount(out, 'failing') ?? 0
  passed += p ?? 0
  failed += f
  // A runner that died before or after its counts (or failed outside any test) still fails the run.
  if (code !== 0 && f === 0) failed += 1
}
process.stdout.write(`\n${passed} passed, ${failed} failed\n`)
process.exit(failed > 0 ? 1 : 0)
