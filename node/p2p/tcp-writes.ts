/**
 * Writes to a TCP connection gathered into one system call per turn of the event loop.
 *
 * Every yamux frame reaches libp2p's TCP connection as its own noise message, and the library
 * writes each to the socket at once: one write(2) per 64 KiB, and on loopback or a fast link each
 * one wakes the receiving process for those 64 KiB alone. An uploading node feeding six or
 * fourteen suppliers from two cores then keeps every supplier waking per message, and each
 * wake-up costs the receiver far more than the bytes it brings. Here the socket is corked while
 * the current turn writes (the rest of the tick, its promise callbacks included) and uncorked
 * once it is done: everything it wrote leaves in one writev(2), and the receiver finds a burst.
 *
 * Backpressure stays: the connection reports "send no more" once COALESCE_LIMIT bytes wait in
 * the socket, and node emits 'drain' when they are gone, which is what libp2p waits for.
 */
import { Socket } from 'node:net'
import type { Uint8ArrayList } from 'uint8arraylist'
import { consumed } from '../util/lent-buffers.ts'

/** Bytes a corked socket may hold before the connection asks its streams to wait. */
export const COALESCE_LIMIT = 1024 * 1024

/** libp2p's TCP connection, as far as this module uses it (checked before it is touched). */
interface TcpConnection {
  socket: Socket
  sendData: (data: Uint8ArrayList) => { sentBytes: number, canSendMore: boolean }
}

function isTcpConnection (c: unknown): c is TcpConnection {
  const x = c as Partial<TcpConnection> | null
  return x?.socket instanceof Socket && typeof x.sendData === 'function'
}

/** How many connections were given coalesced writes, and how many were not TCP (tests read these). */
export const coalesceStats = { installed: 0, skipped: 0 }

/**
 * Replaces `connection.sendData` with one that corks the socket for the rest of the tick. A
 * connection that is not libp2p's TCP connection (a relayed one, or a future shape of the
 * library's) is left as it is.
 */
export function coalesceTcpWrites (connection: unknown, limit = COALESCE_LIMIT): boolean {
  if (!isTcpConnection(connection)) {
    coalesceStats.skipped++
    return false
  }
  const socket = connection.socket
  let corked = false
  const uncork = (): void => {
    corked = false
    socket.uncork()
  }
  connection.sendData = (data) => {
    if (!corked && !socket.destroyed) {
      corked = true
      socket.cork()
      // After every promise callback of this turn too: nextTick runs once the microtasks drain.
      process.nextTick(uncork)
    }
    let sentBytes = 0
    for (const buf of data) {
      // Once written, a lent ciphertext buffer goes back to its pool (noise-crypto.ts).
      socket.write(buf, () => { consumed(buf) })
      sentBytes += buf.byteLength
    }
    // write() says false above its 64 KiB mark, which a corked socket passes at once; what
    // matters is how much waits in all. Only a socket that will emit 'drain' may say "wait".
    return { sentBytes, canSendMore: !(socket.writableNeedDrain && socket.writableLength >= limit) }
  }
  coalesceStats.installed++
  return true
}
