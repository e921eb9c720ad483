/**
 * `npm run bench -- disk`: how fragment bytes reach the disk and come back, buffered (page cache,
 * then fsync) against O_DIRECT (node/storage/direct-io.ts), in os.tmpdir(). Reports wall-clock
 * MB/s and CPU per byte, both of this process and of the whole machine (from /proc/stat), because
 * writeback work lands in kernel threads that this process's own CPU time does not show.
 * Then the same through the supplier's fragment store, which also hashes every byte.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { merkleRoot } from '../../node/proofs/merkle.ts'
import { AlignedPool, openDirect, openDirectForRead, supportsDirectIo } from '../../node/storage/direct-io.ts'
import { DiskFragmentStore } from '../../node/storage/fragment-store/store.ts'
import { machine, table, writeSection } from './report.ts'

const MiB = 1024 * 1024
const SIZE = Number(process.env.BENCH_DISK_MIB ?? 1024) * MiB
/** Files written back to back per mode: writeback costs show once dirty pages pass the kernel's thresholds. */
const FILES = 3
const STORE_SIZE = Math.min(SIZE, 256 * MiB)

/** Busy and total jiffies of the whole machine. */
function machineTicks (): { busy: number, all: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  const all = f.reduce((a, b) => a + b, 0)
  const idle = (f[3] ?? 0) + (f[4] ?? 0)
  return { busy: all - idle, all }
}

interface Sample { mbs: number, procNsB: number, machineNsB: number }

async function measure (bytes: number, fn: () => Promise<void>): Promise<Sample> {
  const m0 = machineTicks()
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  await fn()
  const s = (performance.now() - t0) / 1000
  const c = process.cpuUsage(c0)
  const m1 = machineTicks()
  return { mbs: bytes / 1e6 / s, procNsB: (c.user + c.system) * 1000 / bytes, machineNsB: (m1.busy - m0.busy) * 1e7 / bytes }
}

async function writeFile (path: string, direct: boolean, block: Buffer): Promise<void> {
  const fh = direct ? await openDirect(path) : await open(path, 'wx', 0o600)
  try {
    for (let o = 0; o < SIZE; o += block.length) await fh.write(block, 0, block.length, o)
    if (direct) await fh.datasync()
    else await fh.sync()
  } finally {
    await fh.close()
  }
}

async function readFile (path: string, direct: boolean, block: Buffer): Promise<void> {
  const fh = direct ? await openDirectForRead(path) : await open(path, 'r')
  try {
    for (let o = 0; o < SIZE; o += block.length) await fh.read(block, 0, block.length, o)
  } finally {
    await fh.close()
  }
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bitdust-bench-disk-'))
  try {
    if (!await supportsDirectIo(dir)) throw new Error(`${dir} does not take O_DIRECT: nothing to compare`)
    const block = new AlignedPool(MiB, 1, 1).take()
    block.set(randomBytes(MiB))
    const rows: Array<Array<string | number>> = []
    const row = (what: string, s: Sample): void => {
      rows.push([what, s.mbs.toFixed(0), s.procNsB.toFixed(2), s.machineNsB.toFixed(2)])
      console.log(`  ${what}: ${s.mbs.toFixed(0)} MB/s, ${s.procNsB.toFixed(2)} ns/B here, ${s.machineNsB.toFixed(2)} ns/B machine`)
    }
    // Direct first, so the buffered writes do not leave writeback running under the direct ones.
    row(`write + sync, O_DIRECT (${FILES} files in a row)`, await measure(FILES * SIZE, async () => { for (let i = 0; i < FILES; i++) await writeFile(join(dir, `d${i}`), true, block) }))
    row(`write + fsync, buffered (${FILES} files in a row)`, await measure(FILES * SIZE, async () => { for (let i = 0; i < FILES; i++) await writeFile(join(dir, `b${i}`), false, block) }))
    for (let i = 0; i < FILES; i++) await rm(join(dir, `b${i}`))
    // Files written with O_DIRECT are not in the page cache: both reads start cold.
    row('read, O_DIRECT', await measure(SIZE, async () => { await readFile(join(dir, 'd0'), true, block) }))
    row('read, buffered (cold)', await measure(SIZE, async () => { await readFile(join(dir, 'd1'), false, block) }))
    row('read, buffered (page cache)', await measure(SIZE, async () => { await readFile(join(dir, 'd1'), false, block) }))
    for (let i = 0; i < FILES; i++) await rm(join(dir, `d${i}`))

    const fragment = randomBytes(STORE_SIZE)
    const root = `0x${Buffer.from(merkleRoot(fragment)).toString('hex')}`
    // Warm-up rounds first (JIT), then each mode; the best of two rounds is reported.
    const best = new Map<string, Sample>()
    for (const [round, directIo] of [true, false, true, false, true, false].entries()) {
      const meta = new Map<string, string>()
      const db = {
        get: async (k: string) => meta.get(k),
        put: async (k: string, v: string) => { meta.set(k, v) },
        del: async (k: string) => { meta.delete(k) },
        values: async function * () { yield * meta.values() },
      }
      const store = new DiskFragmentStore({ dir: join(dir, `store-${String(directIo)}`), quota: 4 * STORE_SIZE, directIo }, { db })
      await rm(join(dir, `store-${String(directIo)}`), { recursive: true, force: true })
      await store.start()
      const put = await measure(STORE_SIZE, async () => {
        await store.put({ dealId: `0x${'11'.repeat(32)}`, slot: 0, size: STORE_SIZE, root, owner: `0x${'22'.repeat(20)}` },
          (async function * () { for (let o = 0; o < STORE_SIZE; o += 64 * 1024) yield fragment.subarray(o, o + 64 * 1024) })())
      })
      const get = await measure(STORE_SIZE, async () => { for await (const _ of store.read(`0x${'11'.repeat(32)}`, 0, 0, STORE_SIZE)) { /* drain */ } })
      await store.stop()
      if (round < 2) continue
      for (const [what, sample] of [[`fragment store put (hash + write + sync), ${store.writeMode}`, put], [`fragment store read (read + verify), ${store.writeMode}${directIo ? '' : ' (page cache)'}`, get]] as const) {
        if ((best.get(what)?.mbs ?? 0) < sample.mbs) best.set(what, sample)
      }
    }
    for (const [what, s] of best) row(what, s)

    writeSection('disk', [
      '## Disk: buffered vs O_DIRECT (`npm run bench -- disk`)',
      '',
      `Command: \`BENCH_DISK_MIB=${SIZE / MiB} npm run bench -- disk\` on ${machine()}, in ${tmpdir()}.`,
      `Files of ${SIZE / MiB} MiB in 1 MiB requests; the fragment store rows move one ${STORE_SIZE / MiB} MiB fragment in 64 KiB pieces.`,
      '"Machine" counts every core\'s busy time from /proc/stat, kernel writeback included (and whatever else ran).',
      '',
      table(['operation', 'MB/s', 'CPU ns/B, this process', 'CPU ns/B, whole machine'], rows),
    ].join('\n'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
