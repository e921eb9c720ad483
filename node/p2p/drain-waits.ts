/**
 * Backpressure that holds after the first drain. libp2p's message streams (@libp2p/utils 7.4)
 * make one promise for `onDrain()` and resolve it at the first 'drain', but never replace it: from
 * then on every `onDrain()` returns that settled promise at once, so a writer that waits for
 * drain whenever `send()` says false stops waiting after the first time. Everything it writes
 * then piles up in the stream's write buffer. A supplier serving a fragment read the whole
 * fragment from disk into memory while the network carried it off at its own pace (a 256 MiB
 * fragment: ~240 MB of buffers, every page faulted in new), and an upload encoded its file far
 * ahead of what the suppliers had taken. This gives each wait a fresh promise once the last one
 * has resolved; a promise rejected because the stream closed is kept, so later waits still fail.
 */
import { AbstractMessageStream } from '@libp2p/utils'
import type { AbortOptions } from '@libp2p/interface'

/** The shape of the library's drain promise (Promise.withResolvers). */
interface Resolvers { promise: Promise<void>, resolve: () => void, reject: (err: Error) => void }

/** The fields of the library's stream that the fix reads and writes. */
interface DrainFields {
  writableNeedsDrain: boolean
  onDrainPromise?: Resolvers
  onDrain: (options?: AbortOptions) => Promise<void>
}

function resolvers (): Resolvers {
  let resolve!: () => void
  let reject!: (err: Error) => void
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

/** Whether the fix is installed, and how many waits got a fresh promise (tests read these). */
export const drainStats = { installed: false, fresh: 0 }

/** Installs the fix on every libp2p message stream (once; later calls do nothing). */
export function fixDrainWaits (): void {
  if (drainStats.installed) return
  const proto = AbstractMessageStream.prototype as unknown as DrainFields
  const original = proto.onDrain
  if (typeof original !== 'function') return
  proto.onDrain = function (this: DrainFields, options?: AbortOptions): Promise<void> {
    if (this.writableNeedsDrain && this.onDrainPromise == null) {
      const p = resolvers()
      // The library resolves it on 'drain' and rejects it on close; only a resolved one goes.
      p.promise.then(() => { if (this.onDrainPromise === p) this.onDrainPromise = undefined }, () => {})
      this.onDrainPromise = p
      drainStats.fresh++
    }
    return original.call(this, options)
  }
  drainStats.installed = true
}
