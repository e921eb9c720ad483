/**
 * A node's CPU priority (`nice`). A supplier on someone's desktop is a background service: it
 * should take the CPU nobody else wants, not compete with the person's own programs. On the
 * devnet the suppliers, which stand for other people's machines, share this one with the user's
 * node: the node the person drives should answer first. (Measured for speed too: no gain in
 * uploads beyond the machine's noise, BENCHMARKS.md, node section, fourth round.)
 */
import { readdirSync } from 'node:fs'
import { getPriority, setPriority } from 'node:os'

/** The highest niceness there is (the lowest priority). */
export const MAX_NICE = 19

export class PriorityError extends Error {
  override name = 'PriorityError'
}

/**
 * Lowers this process's priority to `nice` (0-19: raising it needs privileges, and nothing here
 * wants that). On Linux a niceness belongs to a thread, and threads inherit it only when they are
 * created: node's own threads already run, so each one is set (/proc/self/task); the libuv pool
 * starts on first use and inherits from the main thread. Returns how many threads were set.
 */
export function lowerPriority (nice: number): number {
  if (!Number.isInteger(nice) || nice < 0 || nice > MAX_NICE) throw new PriorityError(`nice must be an integer from 0 to ${MAX_NICE}, got ${nice}`)
  if (nice === 0 || nice <= getPriority(0)) return 0
  let tids: number[] = []
  try {
    tids = readdirSync('/proc/self/task').map(Number).filter((t) => Number.isInteger(t) && t > 0)
  } catch { /* not Linux: the process's priority is the one setting there is */ }
  if (tids.length === 0) {
    setPriority(0, nice)
    return 1
  }
  let set = 0
  for (const tid of tids) {
    try {
      setPriority(tid, nice)
      set++
    } catch { /* a thread that ended meanwhile */ }
  }
  return set
}
