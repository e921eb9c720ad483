/**
 * Yamux receive-window updates in half-window steps. The library answers every data frame it
 * receives with a window update, so a bulk stream costs the receiver one extra frame (a noise
 * message and a socket write) per data frame and wakes the sender once more per frame to read
 * it: measured as ~10 % of a supplier's main thread while receiving fragments. Hashicorp's and
 * go-libp2p's yamux only send an update once at least half of the receive window has been
 * consumed; this applies the same rule. A sender is only ever blocked on a window the receiver
 * has used up completely, which is more than half, so the rule never withholds an update that a
 * blocked sender waits for. Streams that still have to announce state (SYN/ACK flags) or are
 * paused go through the library's own logic unchanged.
 */
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

/** The private fields the rule reads (checked at install). */
interface WindowFields {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate: () => void
}

/** How many updates went out and how many the rule held back (tests read these). */
export const windowStats = { sent: 0, held: 0, installed: false }

/** Installs the rule on every yamux stream (once; later calls do nothing). */
export function halfWindowUpdates (): void {
  if (windowStats.installed) return
  const proto = YamuxStream.prototype as unknown as WindowFields
  const original = proto.sendWindowUpdate
  if (typeof original !== 'function') return
  proto.sendWindowUpdate = function (this: WindowFields): void {
    if (this.state === StreamState.Established && typeof this.recvWindow === 'number' &&
      this.recvWindow - this.recvWindowCapacity < this.recvWindow / 2) {
      windowStats.held++
      return
    }
    windowStats.sent++
    original.call(this)
  }
  windowStats.installed = true
}
