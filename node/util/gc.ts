/**
 * V8 and malloc tuning for a process that streams gigabytes through Buffers. Every network read, noise
 * message and encrypted chunk is a Buffer whose bytes live outside the JS heap. Two defaults make
 * V8 collect the whole heap far too often for that:
 *
 * - it starts a full mark-compact each time external memory grows by 64 MB, however little of it
 *   is still alive. Accounting external memory in the global heap limit instead lets the limit
 *   grow with the heap like any other allocation (devnet: full collections fell from 47 to 6 for
 *   the user node uploading 512 MiB).
 * - the limit then grows only ~1.1–2x what survived the last collection, and a node keeps only
 *   ~50 MB alive while a GiB flows through, so a 1 GiB upload still ran ~18 full collections in
 *   the user node and ~8 in each supplier. Their concurrent marking was a third of the CPU the
 *   whole devnet spent (perf: V8Worker threads 31% of samples). A growing factor of 4 brought
 *   that to ~2 each, and the devnet's CPU per uploaded GiB from 22–24 to 15–19 CPU-s
 *   (BENCHMARKS.md, node section). The price is a larger peak heap (~4x live, a few hundred MB).
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { nativeAddon } from './native.ts'

/** The heap may grow to (1 + this/100) times what survived the last full collection. */
export const HEAP_GROWING_PERCENT = 300

/**
 * Buffers' bytes come from malloc. glibc maps each block above 128 KiB on its own and returns
 * freed memory at the top of its heap to the kernel past twice that, so the buffers freed by
 * one collection were given back and the next ones faulted every page in again, zeroed: a third
 * of the user node's main thread while downloading (perf), ~8 % of a supplier's. Blocks up to
 * glibc's maximum threshold (32 MiB) now come from the heap, and up to 256 MiB of free heap is
 * kept for reuse (the price: that much more resident memory at most, after a peak).
 */
export const MALLOC_MMAP_THRESHOLD = 32 * 1024 * 1024
export const MALLOC_TRIM_THRESHOLD = 256 * 1024 * 1024

/**
 * V8 flags a node process is started with (the devnet's children, the bin's shebang, ./bitdust):
 * they cannot be set once the heap exists (setFlagsFromString in a running node changed nothing).
 *
 * --single-threaded-gc: V8 splits its collections over helper threads (parallel scavenges,
 * concurrent marking and sweeping), sized to the cores it sees. A node shares 2 cores with the
 * chain and every other node of the devnet, and a storage node is never short of a core to wait
 * on: the helpers only added wake-ups and threads waiting on each other. Measured in one devnet
 * with half of the suppliers started with it (same uploads, so the machine's noise cancels):
 * 2–5 % less CPU per fragment received, and idle helper threads of 6 suppliers fell from
 * ~0.8 to ~0.1 CPU-s per 10 s. The price: each collection pauses the main thread for all of its
 * work, a few ms for the young generation this node keeps small (noteTransportBytes).
 */
export const NODE_FLAGS: readonly string[] = ['--single-threaded-gc']

/** Whether the malloc thresholds were applied (false without the addon or off glibc). */
export let mallocTuned = false

let tuned = false

/**
 * Call once, early: before the process starts moving bulk data. `youngCollections: false` leaves
 * out the collections driven by traffic (noteTransportBytes), for comparison.
 */
export function tuneGcForStreaming (options: { youngCollections?: boolean } = {}): void {
  if (tuned) return
  tuned = true
  setFlagsFromString('--external-memory-accounted-in-global-limit')
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
  mallocTuned = nativeAddon?.tuneMalloc?.(MALLOC_MMAP_THRESHOLD, MALLOC_TRIM_THRESHOLD) === true
  if (options.youngCollections !== false) enableYoungCollections()
}

/**
 * Collect the young generation after this many bytes of network traffic. Every socket read is a
 * fresh Buffer (node allocated one per 64 KiB; tcp-reads.ts now fills 1 MiB blocks) and every
 * noise write another; they die
 * within milliseconds, but their memory goes back to malloc only when a scavenge finds them dead,
 * and a scavenge runs only when the young generation fills with JS objects, which a byte stream
 * makes few of. So a supplier receiving a fragment grew its malloc heap by ~200 MB of dead
 * buffers before the first scavenge, every one of them a new page the kernel had to zero:
 * perf found clear_page a fifth of each supplier's CPU during a 10+4 upload, and 75 % of the
 * pages received faulted in. A scavenge is cheap when what survives is a few in-flight buffers
 * (a few milliseconds at most, seen in --trace-gc on the loaded devnet); after one every 8 MiB
 * the same malloc blocks come back, still in cache.
 * Measured on the 10+4 devnet (1 GiB upload): supplier CPU 0.8 -> 0.55 s each, the whole
 * devnet 15.5 -> 12.5 CPU-s; smaller steps (1–2 MiB) cost the uploading node more than they save.
 */
export const YOUNG_GC_EVERY = 8 * 1024 * 1024

type GcFn = (options: { type: 'minor' | 'major', execution?: 'sync' | 'async' }) => void
let collect: GcFn | undefined
let pending = 0
let scheduled = false
/** Bytes noted and young collections run by noteTransportBytes (for tests). */
export const youngGcStats = { noted: 0, runs: 0 }

/**
 * Gives this module V8's gc() (runtime flag, then a fresh context where the function is defined);
 * the main context's globals are not touched.
 */
function enableYoungCollections (): void {
  if (collect !== undefined) return
  setFlagsFromString('--expose-gc')
  const fn: unknown = runInNewContext('gc')
  if (typeof fn === 'function') collect = fn as GcFn
}

/**
 * Counts bytes that went through transport Buffers; past YOUNG_GC_EVERY, schedules one young
 * collection for after the current I/O callbacks. A no-op unless tuneGcForStreaming enabled it.
 */
export function noteTransportBytes (n: number): void {
  youngGcStats.noted += n
  if (collect === undefined) return
  pending += n
  if (pending < YOUNG_GC_EVERY || scheduled) return
  scheduled = true
  setImmediate(() => {
    scheduled = false
    pending = 0
    youngGcStats.runs++
    collect?.({ type: 'minor' })
  })
}
