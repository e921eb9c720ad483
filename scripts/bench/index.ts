/**
 * `npm run bench`: every benchmark, one after another (they would disturb each other's timings
 * in parallel). `npm run bench -- NAME` runs one. Each writes its own section of BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'

const only = process.argv.slice(2)
const dir = import.meta.dirname
const benches = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).sort()
let failed = 0
for (const file of benches) {
  const name = file.replace(/\.bench\.ts$/, '')
  if (only.length > 0 && !only.includes(name)) continue
  process.stdout.write(`\n=== bench ${name} ===\n`)
  const r = spawnSync(process.execPath, ['--expose-gc', '--external-memory-accounted-in-global-limit', `${dir}/${file}`], { stdio: 'inherit', env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: 'true' } })
  if (r.status !== 0) failed++
}
process.exit(failed > 0 ? 1 : 0)
