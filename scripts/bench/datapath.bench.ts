/**
 * `npm run bench -- datapath`: MB/s of each data-path stage and of the whole pipeline
 * (file -> fragments + trees on disk, and back) next to raw single-core AES-256-GCM measured in
 * the same run, plus peak RSS of the pipeline in a child process for 1 and 2 GiB files.
 * BENCH_DATAPATH_MIB=256 shortens a trial run.
 */
import { spawnSync } from 'node:child_process'
import { createCipheriv, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChunkEncryptor, generateFileKey } from '../../node/crypto/file-cipher.ts'
import { ronomonCodec } from '../../node/erasure/ronomon.ts'
import { treeHashBackend, treeHashDetail, treeLevels } from '../../node/proofs/tree-hash.ts'
import { decodeFile } from '../../node/storage/decode.ts'
import { directorySources, encodeFile } from '../../node/storage/fragment-files.ts'
import { machine, table, writeSection } from './report.ts'

const MIB = 2 ** 20
const SIZE_MIB = Number(process.env.BENCH_DATAPATH_MIB ?? 1024)
const SIZE = SIZE_MIB * MIB
/** Pipeline runs per row; the best is reported (BENCH_DATAPATH_RUNS). */
const RUNS = Number(process.env.BENCH_DATAPATH_RUNS ?? 2)
const mbs = (bytes: number, ms: number): number => Math.round(bytes / MIB / (ms / 1000))

async function time (fn: () => Promise<unknown> | unknown): Promise<number> {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

/** Wall ms and CPU seconds (all threads of this process: main + libuv pool). */
async function timeCpu (fn: () => Promise<unknown> | unknown): Promise<{ ms: number, cpu: number }> {
  const c = process.cpuUsage()
  const ms = await time(fn)
  const u = process.cpuUsage(c)
  return { ms, cpu: (u.user + u.system) / 1e6 }
}

async function writeRandomFile (path: string, size: number): Promise<void> {
  const fh = await open(path, 'w')
  const block = randomBytes(16 * MIB)
  for (let o = 0; o < size; o += block.length) {
    block.writeUInt32LE(o / block.length, 0) // no two blocks alike
    await fh.write(block, 0, Math.min(block.length, size - o))
  }
  await fh.close()
}

// --- child mode: run the pipeline once and report peak RSS -------------------------------------
if (process.argv[2] === '--rss') {
  const mib = Number(process.argv[3])
  const dir = await mkdtemp(join(process.argv[4] ?? tmpdir(), 'bitdust-bench-rss-'))
  try {
    const input = join(dir, 'in.bin')
    await writeRandomFile(input, mib * MIB)
    const enc = await encodeFile(input, join(dir, 'frags'), { k: 4, m: 2 })
    await rm(input)
    await decodeFile(directorySources(join(dir, 'frags'), [1, 2, 3, 4, 5]), enc, enc.key, join(dir, 'out.bin'))
    // VmHWM is this program's own high-water mark; ru_maxrss would also count the parent's pages
    // that this process inherited for a moment between fork and exec.
    let peak = process.resourceUsage().maxRSS * 1024
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(await readFile('/proc/self/status', 'utf8'))
      if (hwm != null) peak = Number(hwm[1]) * 1024
    } catch {}
    process.stdout.write(JSON.stringify({ maxRSS: peak }) + '\n')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  process.exit(0)
}

const load0 = loadavg()[0] ?? 0
process.stdout.write(`datapath bench: ${SIZE_MIB} MiB, tree hashing: ${treeHashDetail}, load ${load0.toFixed(1)}\n`)
const log = (s: string): void => { process.stdout.write(`${s}\n`) }

// --- reference: raw AES-256-GCM on one core, 1 MiB updates --------------------------------------
const buf = randomBytes(256 * MIB)
async function rawAes (): Promise<number> {
  const key = randomBytes(32)
  const ms = await time(() => {
    for (let done = 0; done < SIZE; done += MIB) {
      const o = done % buf.length
      const c = createCipheriv('aes-256-gcm', key, randomBytes(12))
      c.update(buf.subarray(o, o + MIB))
      c.final()
      c.getAuthTag()
    }
  })
  return mbs(SIZE, ms)
}
// Best of two, like every pipeline row: other processes share these cores.
const aes = Math.max(await rawAes(), await rawAes())
log(`raw AES-256-GCM ${aes} MB/s`)

// --- stages -------------------------------------------------------------------------------------
const stages: Array<Array<string | number>> = []
{
  const enc = new ChunkEncryptor(generateFileKey(), SIZE)
  const ms = await time(() => { for (let i = 0; i < enc.chunks; i++) enc.encryptChunk(i, buf.subarray((i * MIB) % buf.length, (i * MIB) % buf.length + MIB)) })
  stages.push(['encrypt (file format v1, 1 MiB chunks, 1 thread)', mbs(SIZE, ms), `${SIZE_MIB} MiB plaintext`])
}
for (const [k, m] of [[4, 2], [10, 4]] as const) {
  const codec = ronomonCodec(k, m)
  const shard = 256 * 1024
  const stripe = k * shard
  const parities = [Buffer.alloc(m * shard), Buffer.alloc(m * shard)]
  const ms = await time(async () => {
    const jobs: Array<Promise<void>> = []
    for (let done = 0, s = 0; done < SIZE; done += stripe, s++) {
      const o = done % (buf.length - stripe)
      jobs.push(codec.encode(buf.subarray(o, o + stripe), parities[s % 2] as Buffer, shard))
      if (jobs.length >= 2) await jobs.shift()
    }
    await Promise.all(jobs)
  })
  stages.push([`erasure encode ${k}+${m} (libuv pool, 2 in flight)`, mbs(SIZE, ms), 'data bytes in'])
}
for (const js of [false, true]) {
  if (js && treeHashBackend === 'js') continue
  const bytes = js ? Math.min(SIZE, 128 * MIB) : SIZE * 1.5
  const shard = 256 * 1024
  const ms = await time(async () => {
    const jobs: Array<Promise<unknown>> = []
    for (let done = 0; done < bytes; done += shard) {
      const o = done % buf.length
      jobs.push(treeLevels(buf.subarray(o, o + shard), 1024, 10, 6, { js }))
      if (jobs.length >= 4) await jobs.shift()
    }
    await Promise.all(jobs)
  })
  stages.push([`Merkle trees, 256 B leaves (${js ? 'pure JS fallback, 1 thread' : `${treeHashBackend}, libuv pool`})`, mbs(bytes, ms), 'fragment bytes in'])
}

const dirs: Array<[string, string]> = [['disk (os.tmpdir)', tmpdir()]]
if (existsSync('/dev/shm')) dirs.push(['tmpfs (/dev/shm)', '/dev/shm'])
const pipeline: Array<Array<string | number>> = []
for (const [label, base] of dirs) {
  const dir = await mkdtemp(join(base, 'bitdust-bench-'))
  try {
    // write stage: the fragment bytes of a 4+2 encode (1.5x the file), fsync'd
    {
      const chunk = buf.subarray(0, 4 * MIB)
      const path = join(dir, 'write.bin')
      const bytes = SIZE * 1.5
      const ms = await time(async () => {
        const fh = await open(path, 'w')
        for (let o = 0; o < bytes; o += chunk.length) await fh.write(chunk)
        await fh.sync()
        await fh.close()
      })
      await rm(path)
      stages.push([`write + fsync, ${label}`, mbs(bytes, ms), 'fragment bytes of a 4+2 encode'])
    }
    const input = join(dir, 'in.bin')
    await writeRandomFile(input, SIZE)
    for (const [k, m] of [[4, 2], [10, 4]] as const) {
      const frags = join(dir, `frags-${k}-${m}`)
      let enc: Awaited<ReturnType<typeof encodeFile>> | undefined
      const best = (a: { ms: number, cpu: number }, b: { ms: number, cpu: number }): { ms: number, cpu: number } => a.ms <= b.ms ? a : b
      let encT = { ms: Infinity, cpu: 0 }
      for (let r = 0; r < RUNS; r++) {
        await rm(frags, { recursive: true, force: true })
        encT = best(encT, await timeCpu(async () => { enc = await encodeFile(input, frags, { k, m }) }))
      }
      const e = enc as NonNullable<typeof enc>
      const all = [...Array(k + m).keys()]
      const out = join(dir, 'out.bin')
      let decT = { ms: Infinity, cpu: 0 }
      let rebuildT = { ms: Infinity, cpu: 0 }
      for (let r = 0; r < RUNS; r++) {
        decT = best(decT, await timeCpu(async () => decodeFile(directorySources(frags, all), e, e.key, out)))
        await rm(out)
        // The worst case for reading: the first m data fragments are gone, Reed-Solomon rebuilds them.
        rebuildT = best(rebuildT, await timeCpu(async () => decodeFile(directorySources(frags, all.slice(m)), e, e.key, out)))
        await rm(out)
      }
      await rm(frags, { recursive: true })
      for (const [what, t] of [['file -> fragments + trees (encrypt, RS, Merkle, write, fsync)', encT], ['fragments -> file (k data fragments)', decT], [`fragments -> file (${m} data fragments missing: RS rebuild)`, rebuildT]] as const) {
        const v = mbs(SIZE, t.ms)
        const perCpu = Math.round(SIZE / MIB / t.cpu)
        pipeline.push([`${k}+${m}`, label, what, v, `${Math.round((v / aes) * 100)}%`, (t.cpu / (SIZE / 2 ** 30)).toFixed(2), perCpu])
        log(`${k}+${m} ${label} ${what}: ${v} MB/s, ${perCpu} MB per CPU-second`)
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

// --- peak RSS in a child: the pipeline (encode 4+2, then decode with one fragment missing) -----
const rss: Array<Array<string | number>> = []
for (const mib of [Math.max(64, SIZE_MIB / 4), SIZE_MIB, SIZE_MIB * 2]) {
  const r = spawnSync(process.execPath, [import.meta.filename, '--rss', String(mib)], { encoding: 'utf8', maxBuffer: 1 << 20 })
  const line = r.stdout.trim().split('\n').at(-1) ?? ''
  let peak = NaN
  try { peak = (JSON.parse(line) as { maxRSS: number }).maxRSS / MIB } catch {}
  rss.push([`${mib} MiB`, Number.isFinite(peak) ? Math.round(peak) : `failed: ${r.stderr.slice(0, 200)}`])
  log(`peak RSS for ${mib} MiB: ${Math.round(peak)} MiB`)
}

const md = [
  `Command: \`npm run bench -- datapath\`${SIZE_MIB !== 1024 ? ` (BENCH_DATAPATH_MIB=${SIZE_MIB})` : ''}. ${machine()}. File: ${SIZE_MIB} MiB of random bytes. ` +
  `Tree hashing: ${treeHashDetail}. Load average (1 min) at start ${load0.toFixed(1)}, at end ${(loadavg()[0] ?? 0).toFixed(1)} ` +
  '(other work shares the 2 cores: wall-clock MB/s is a lower bound).',
  '',
  `**Reference, same run: raw AES-256-GCM, one core, 1 MiB updates, best of 2: ${aes} MB/s.** Target: whole pipeline >= 50% of it.`,
  '',
  '### Stages',
  table(['stage', 'MB/s', 'measured on'], stages),
  '',
  `### Whole pipeline (MB/s of plaintext, best of ${RUNS}; % of raw AES-GCM)`,
  'CPU columns count every thread of the process (main + libuv pool): on a shared machine they are steadier than wall time.',
  '',
  table(['k+m', 'where', 'direction', 'MB/s', '% of AES', 'CPU s per GiB', 'MB per CPU-second'], pipeline),
  '',
  '### Peak RSS of the pipeline in a child process (encode 4+2 to disk, decode with fragment 0 missing)',
  table(['file', 'peak RSS (MiB)'], rss),
].join('\n')
writeSection('datapath', md)
log(md)
