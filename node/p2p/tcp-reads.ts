/**
 * Reads from a busy TCP connection in blocks of up to READ_BLOCK bytes instead of node's 64 KiB.
 *
 * Node reads a socket 64 KiB at a time into a fresh Buffer and hands each one up through the
 * stream machinery (the 'data' event, libp2p's connection and its message event, noise's
 * decoder): a supplier receiving a fragment ran that whole path, and allocated a buffer for the
 * collector, once per 64 KiB. Here the socket reads with node's user-buffer mode (net.Socket's
 * `onread` option, which a server's sockets cannot be given, so it is set on the socket once
 * noise has secured it; node calls back with each read and asks for the buffer of the next).
 *
 * - A connection reads into its own small buffer of SMALL_READ bytes; every read from it is
 *   copied out. So a quiet connection holds 16 KiB, not a block, and a small message that
 *   something keeps (a DHT record, a peer's key) holds a buffer of its own size.
 * - When a read fills the small buffer, the peer is streaming: the next read goes into a block of
 *   READ_BLOCK bytes and takes whatever the kernel holds, up to the room left. A read of at least
 *   SMALL_READ bytes goes up as a view of the block, uncopied, and the next read goes into the room
 *   behind it; a block with less than BULK_READ left is replaced by a new one. A shorter read is
 *   copied out (the room stays free), and one shorter than QUIET_READ, which a stream of data
 *   does not make, sends the connection back to its small buffer.
 *
 * Backpressure stays: a paused socket stops reading after the read in hand (node's contract for
 * the callback: return false), and resume() starts it again.
 */
import { Socket } from 'node:net'

/** The largest single read. */
export const READ_BLOCK = 1024 * 1024
/** A block with less room than this is replaced: a read should find room for node's own 64 KiB. */
export const BULK_READ = 64 * 1024
/** A quiet connection's read buffer; block reads at least this long are handed up uncopied. */
export const SMALL_READ = 16 * 1024
/** A block read shorter than this (control frames, a receipt) sends the connection back to its small buffer. */
export const QUIET_READ = 1024

/** node's Socket handle, as far as this module uses it. */
interface UserBufferHandle { useUserBuffer: (buf: Uint8Array) => void }

/** Connections switched to block reads and connections left alone; reads seen (tests read these). */
export const readStats = { installed: 0, skipped: 0, reads: 0, copied: 0 }

function symbolOf (socket: Socket, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(socket).find((s) => s.description === description)
}

/**
 * Switches libp2p's TCP connection (`connection.socket`) to block reads. A connection that is not
 * a TCP socket, a socket whose node internals are not the ones this module knows, and a socket
 * with bytes already in its readable buffer (they would be delivered after newer ones) keep
 * node's own reads.
 */
export function blockReads (connection: unknown, blockSize = READ_BLOCK): boolean {
  const socket = (connection as { socket?: unknown } | null)?.socket
  if (!(socket instanceof Socket)) { readStats.skipped++; return false }
  const kBuffer = symbolOf(socket, 'kBuffer')
  const kBufferCb = symbolOf(socket, 'kBufferCb')
  const kBufferGen = symbolOf(socket, 'kBufferGen')
  const handle = (socket as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle
  const fields = socket as unknown as Record<symbol, unknown>
  if (kBuffer === undefined || kBufferCb === undefined || kBufferGen === undefined ||
    typeof handle?.useUserBuffer !== 'function' || fields[kBuffer] != null ||
    socket.readableLength > 0 || socket.destroyed) {
    readStats.skipped++
    return false
  }
  const small = Buffer.allocUnsafeSlow(SMALL_READ)
  let block: Buffer | undefined
  let used = 0
  let next: Buffer = small
  const blockRoom = (): Buffer => {
    if (block === undefined || block.byteLength - used < BULK_READ) {
      block = Buffer.allocUnsafeSlow(blockSize)
      used = 0
    }
    return block.subarray(used)
  }
  fields[kBufferCb] = (nread: number, buf: Buffer): boolean => {
    readStats.reads++
    let chunk: Buffer
    if (buf !== small && nread >= SMALL_READ) {
      // Its bytes now belong to whoever they go to; the next read goes in behind them.
      chunk = buf.subarray(0, nread)
      used += nread
      next = blockRoom()
    } else {
      chunk = Buffer.from(buf.subarray(0, nread))
      readStats.copied++
      if (buf === small) {
        // The small buffer came back full: the peer has started streaming.
        if (nread === small.byteLength) next = blockRoom()
      } else if (nread < QUIET_READ) {
        // The stream has paused: control frames, a receipt. The block's room stays free.
        next = small
      }
    }
    socket.emit('data', chunk)
    return !socket.isPaused()
  }
  fields[kBufferGen] = (): Buffer => next
  fields[kBuffer] = small
  ;(handle as UserBufferHandle).useUserBuffer(small)
  readStats.installed++
  return true
}
