/**
 * V8 tuning for a process that streams gigabytes through Buffers. Every network read, noise
 * message and decrypted chunk is a Buffer whose bytes live outside the JS heap; by default V8
 * starts a full mark-compact each time such external memory grows by 64 MB, however little of it
 * is still alive. A supplier receiving a 128 MiB fragment ran ~20 full collections of its whole
 * heap (~40 ms each); the user node uploading 512 MiB, ~45. Accounting external memory in the
 * global heap limit instead lets the limit grow with the heap like any other allocation: measured
 * on the devnet, full collections fell from 20 to ~8 per supplier and from 47 to 6 for the user
 * node, and the whole network spent ~20% less CPU per uploaded byte (BENCHMARKS.md, node section).
 */
import { setFlagsFromString } from 'node:v8'

let tuned = false

/** Call once, early: before the process starts moving bulk data. */
export function tuneGcForStreaming (): void {
  if (tuned) return
  tuned = true
  setFlagsFromString('--external-memory-accounted-in-global-limit')
}
