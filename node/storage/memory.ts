/** In-memory sinks and sources: for tests and for callers that hold fragments as buffers. */
import type { StoredTree } from '../proofs/stored-tree.ts'
import type { FragmentSink } from './encode.ts'
import type { FragmentSource } from './decode.ts'

export interface MemoryFragment { bytes: Buffer, tree?: StoredTree }

/** A sink collecting the fragment into `into[index]`. */
export function memorySink (into: MemoryFragment[], index: number): FragmentSink {
  const parts: Buffer[] = []
  return {
    async write (bytes) { parts.push(Buffer.from(bytes)) },
    async close (tree) { into[index] = { bytes: Buffer.concat(parts), tree } },
    async abort () { parts.length = 0 },
  }
}

/** A fragment held in memory as a re-openable source, delivered in `chunk`-byte pieces. */
export function memorySource (index: number, bytes: Uint8Array, chunk = 64 * 1024): FragmentSource {
  return {
    index,
    async * open () {
      for (let o = 0; o < bytes.length; o += chunk) yield bytes.subarray(o, o + chunk)
    },
  }
}
