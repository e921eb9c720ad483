/**
 * Pull-style reading over a libp2p message stream: 4-byte big-endian length-prefixed frames for
 * control messages and raw byte runs for fragment data. Message streams push data at us; we pause
 * the stream above a high-water mark so a slow disk slows the sender (yamux stops granting window)
 * instead of growing memory, and we time out a peer that goes quiet.
 */
import { DEFAULT_IDLE_TIMEOUT_MS, MAX_MESSAGE_SIZE, READ_HIGH_WATER } from '../constants.ts'
import { MessageTooLargeError, PeerTimeoutError, StreamEndedError } from '../errors.ts'
import type { AbortOptions, Stream } from '@libp2p/interface'

export interface FramedInit {
  highWater?: number
  idleTimeoutMs?: number
}

export interface ReadOptions extends AbortOptions {
  /** This read's idle limit instead of the stream's (a reply that legitimately takes long). */
  idleTimeoutMs?: number
}

interface Deferred { promise: Promise<void>, resolve: () => void, reject: (e: unknown) => void }

function deferred (): Deferred {
  let resolve!: () => void
  let reject!: (e: unknown) => void
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

type Chunk = Uint8Array | (Iterable<Uint8Array> & { byteLength: number })

export class Framed {
  readonly stream: Stream
  private readonly chunks: Uint8Array[] = []
  private buffered = 0
  private ended = false
  private error: Error | undefined
  private paused = false
  private waiter: Deferred | undefined
  private readonly highWater: number
  private readonly idleTimeoutMs: number

  constructor (stream: Stream, init: FramedInit = {}) {
    this.stream = stream
    this.highWater = init.highWater ?? READ_HIGH_WATER
    this.idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    stream.addEventListener('message', (evt) => {
      const data = evt.data as Chunk
      if (data.byteLength === 0) return
      // A Uint8ArrayList is kept as its parts: flattening it would copy every byte received.
      if (data instanceof Uint8Array) this.chunks.push(data)
      else for (const part of data) if (part.byteLength > 0) this.chunks.push(part)
      this.buffered += data.byteLength
      if (!this.paused && this.buffered > this.highWater) {
        // Not synchronously: this listener also runs inside stream.resume(), which re-opens the
        // yamux window right after dispatching; pausing here would be undone by it and the
        // sender would keep filling the paused buffer until libp2p resets the stream.
        this.paused = true
        queueMicrotask(() => {
          if (!this.paused) return
          if (this.buffered > this.highWater / 2) {
            try { stream.pause() } catch {}
          } else {
            this.paused = false
          }
        })
      }
      this.wake()
    })
    stream.addEventListener('remoteCloseWrite', () => { this.ended = true; this.wake() })
    stream.addEventListener('close', (evt) => {
      this.ended = true
      if (evt.error != null) this.error = evt.error
      this.wake()
    })
  }

  private wake (): void {
    const w = this.waiter
    this.waiter = undefined
    w?.resolve()
  }

  /** Waits until at least `n` bytes are buffered; throws if the stream ends first. */
  private async need (n: number, options: ReadOptions): Promise<void> {
    const idleMs = options.idleTimeoutMs ?? this.idleTimeoutMs
    while (this.buffered < n) {
      if (this.error != null) throw new StreamEndedError(`The peer's stream failed: ${this.error.message}`)
      if (this.ended) throw new StreamEndedError(`The peer closed the stream after ${this.buffered} of ${n} expected bytes.`)
      options.signal?.throwIfAborted()
      this.waiter = deferred()
      const waiter = this.waiter
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new PeerTimeoutError(`The peer sent nothing for ${idleMs} ms; it is stalled or gone, try another peer.`)), idleMs)
      })
      const onAbort = (): void => waiter.reject(options.signal?.reason)
      options.signal?.addEventListener('abort', onAbort, { once: true })
      try {
        await Promise.race([waiter.promise, timeout])
      } finally {
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
      }
    }
  }

  /** Removes up to `n` buffered bytes (exactly `n` if `exact`). */
  private take (n: number, exact: boolean): Uint8Array {
    const first = this.chunks[0] as Uint8Array
    let out: Uint8Array
    if (first.byteLength >= n) {
      out = first.subarray(0, n)
      if (first.byteLength === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
    } else if (!exact) {
      out = first
      this.chunks.shift()
    } else {
      out = new Uint8Array(n)
      let off = 0
      while (off < n) {
        const c = this.chunks[0] as Uint8Array
        const k = Math.min(c.byteLength, n - off)
        out.set(c.subarray(0, k), off)
        off += k
        if (k === c.byteLength) this.chunks.shift()
        else this.chunks[0] = c.subarray(k)
      }
    }
    this.buffered -= out.byteLength
    if (this.paused && this.buffered < this.highWater / 2) {
      this.paused = false
      try { this.stream.resume() } catch {}
    }
    return out
  }

  /** Reads one length-prefixed frame of at most `max` bytes. */
  async readFrame (max: number = MAX_MESSAGE_SIZE, options: ReadOptions = {}): Promise<Uint8Array> {
    await this.need(4, options)
    const head = this.take(4, true)
    const len = new DataView(head.buffer, head.byteOffset, 4).getUint32(0)
    if (len > max) {
      const err = new MessageTooLargeError(`The peer announced a ${len}-byte message; the limit is ${max}.`)
      this.stream.abort(err)
      throw err
    }
    if (len === 0) return new Uint8Array(0)
    await this.need(len, options)
    return this.take(len, true)
  }

  /** Yields exactly `total` bytes as they arrive. */
  async * readBytes (total: number, options: AbortOptions = {}): AsyncGenerator<Uint8Array> {
    let left = total
    while (left > 0) {
      await this.need(1, options)
      // At most 1 MiB at a time: libp2p may hand us a whole window in one piece.
      const chunk = this.take(Math.min(left, this.buffered, 1024 * 1024), false)
      left -= chunk.byteLength
      yield chunk
    }
  }

  /** True once the remote closed its side and everything it sent has been read. */
  async atEnd (options: AbortOptions = {}): Promise<boolean> {
    try {
      await this.need(1, options)
      return false
    } catch (err) {
      if (err instanceof StreamEndedError) return true
      throw err
    }
  }

  /** Sends bytes; if the peer stops reading for the idle timeout, throws PeerTimeoutError. */
  async write (data: Uint8Array, options: AbortOptions = {}): Promise<void> {
    if (this.stream.send(data)) return
    const timeout = AbortSignal.timeout(this.idleTimeoutMs)
    const signal = options.signal != null ? AbortSignal.any([options.signal, timeout]) : timeout
    try {
      await this.stream.onDrain({ signal })
    } catch (err) {
      if (timeout.aborted && options.signal?.aborted !== true) {
        const e = new PeerTimeoutError(`The peer read nothing for ${this.idleTimeoutMs} ms; it is stalled or gone, try another peer.`)
        this.stream.abort(e)
        throw e
      }
      throw err
    }
  }

  async writeFrame (data: Uint8Array, options: AbortOptions = {}): Promise<void> {
    const head = new Uint8Array(4)
    new DataView(head.buffer).setUint32(0, data.byteLength)
    const out = new Uint8Array(4 + data.byteLength)
    out.set(head, 0)
    out.set(data, 4)
    await this.write(out, options)
  }

  /** Half-closes our side (the peer sees the end of our data). */
  async closeWrite (options: AbortOptions = {}): Promise<void> {
    await this.stream.close(options)
  }

  abort (err: Error): void {
    this.stream.abort(err)
  }
}
