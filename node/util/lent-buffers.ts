/**
 * Buffers lent to the network stack and given back, not left to the garbage collector.
 *
 * A supplier serving a fragment, or a node sending an upload, makes two buffers per MiB that
 * live only until the next stage has them: the disk read and its noise ciphertext. Left to the
 * collector they outlive a scavenge or two while they wait their turn on the connection, are
 * promoted, and are freed only by a full collection, so the heap grows by what was sent: on the
 * 10+4 devnet a supplier faulted in a new page for nearly every byte it served (~26,000 faults
 * per 100 MiB, each a trap to the hypervisor on the VM we measure on). Lent buffers go back to
 * their pool as soon as the last of their bytes has been copied on: plaintext once noise has
 * encrypted it, ciphertext once the kernel has taken it.
 *
 * A lent buffer whose bytes are never all consumed (a stream aborted half-way, a reader that
 * was not the network) is simply never given back, and the collector takes it as before. So the
 * rule for a lender is only: touch nothing you lent, and lend nothing twice.
 */

interface Loan { start: number, end: number, remaining: number, back: () => void }

/** Loans by the memory they are in; a pool may carve several buffers from one ArrayBuffer. */
const loans = new WeakMap<ArrayBufferLike, Loan[]>()

/** Lent and given back so far (tests and benchmarks read these). */
export const lentStats = { lent: 0, returned: 0 }

/** Lends `view` until every one of its bytes was passed to `consumed`; then calls `back`. */
export function lend (view: Uint8Array, back: () => void): void {
  if (view.byteLength === 0) { back(); return }
  let list = loans.get(view.buffer)
  if (list === undefined) { list = []; loans.set(view.buffer, list) }
  list.push({ start: view.byteOffset, end: view.byteOffset + view.byteLength, remaining: view.byteLength, back })
  lentStats.lent++
}

/**
 * `piece`'s bytes were copied on and will not be read again. Pieces of memory that was not lent
 * cost one WeakMap lookup.
 */
export function consumed (piece: Uint8Array): void {
  const list = loans.get(piece.buffer)
  if (list === undefined) return
  const at = piece.byteOffset
  const i = list.findIndex((l) => l.start <= at && at + piece.byteLength <= l.end)
  if (i < 0) return
  const loan = list[i] as Loan
  loan.remaining -= piece.byteLength
  if (loan.remaining > 0) return
  list.splice(i, 1)
  if (list.length === 0) loans.delete(piece.buffer)
  lentStats.returned++
  loan.back()
}

/**
 * Reusable buffers of a few sizes, each its own ArrayBuffer: the ciphertext of one write. Sizes
 * are rounded up to a multiple of `step`; larger requests are plain allocations.
 */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>()
  private readonly step: number
  private readonly largest: number
  private readonly keep: number

  constructor (step = 64 * 1024, largest = 2 * 1024 * 1024, keep = 8) {
    this.step = step
    this.largest = largest
    this.keep = keep
  }

  /** A buffer of exactly `n` bytes (a view of a pooled one), lent until its bytes are consumed. */
  lend (n: number): Buffer {
    const size = Math.ceil(n / this.step) * this.step
    if (n <= 0 || size > this.largest) return Buffer.allocUnsafe(n)
    const whole = this.free.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size)
    const view = whole.subarray(0, n)
    lend(view, () => { this.give(whole) })
    return view
  }

  private give (whole: Buffer): void {
    let list = this.free.get(whole.byteLength)
    if (list === undefined) { list = []; this.free.set(whole.byteLength, list) }
    if (list.length < this.keep) list.push(whole)
  }
}
