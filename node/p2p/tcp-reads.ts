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
 * - A read of at least BULK_READ bytes means the peer is streaming: the next read goes into a
 *   block of READ_BLOCK bytes and takes whatever the kernel holds, up to the room left. Its bytes
 *   go up as a view of the block, uncopied, and the read after it goes into the room behind them;
 *   a block with less than BULK_READ left is replaced by a new one.
 * - A shorter read is copied out, and the connection goes back to its own small buffer of
 *   SMALL_READ bytes. So a quiet connection holds 16 KiB, not a block, and a small message that
 *   something keeps (a DHT record, a peer's key) holds a buffer of its own size.
 *
 * Backpressure stays: a paused socket stops reading after the read in hand (node's contract for
 * the callback: return false), and resume() starts it again.
 */
import { Socket } from 'node:net'

/** The largest single read. */
export const READ_BLOCK = 1024 * 1024
/** A read this long marks a streaming peer (node's own read size). */
export const BULK_READ = 64 * 1024
/** A quiet connection's read buffer. */
export const SMALL_READ = 16 * 1024

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
  fields[kBufferCb] = (nread: number, buf: Buffer): boolean => {
    readStats.reads++
    let chunk: Buffer
    if (nread < BULK_READ) {
      chunk = Buffer.from(buf.subarray(0, nread))
      readStats.copied++
      next = small
    } else {
      // Only a block read can be this long; its bytes now belong to whoever they go to.
      chunk = buf.subarray(0, nread)
      used += nread
      if (block === undefined || block.byteLength - used < BULK_READ) {
        block = Buffer.allocUnsafeSlow(blockSize)
        used = 0
      }
      next = block.subarray(used)
    }
    if (nread === SMALL_READ && buf === small) {
      // The small buffer came back full: the peer has started streaming.
      if (block === undefined || block.byteLength - used < BULK_READ) {
        block = Buffer.allocUnsafeSlow(blockSize)
        used = 0
      }
      next = block.subarray(used)
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
