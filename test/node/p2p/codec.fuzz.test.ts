/**
 * Fuzzes every decoder with >= 10,000 random and mutated messages from a fixed seed (set
 * FUZZ_SEED to reproduce another run): decoders must only ever throw our typed errors, and what
 * they accept must re-encode to at most about its input's size.
 */
import { expect } from 'chai'
import { MAX_MESSAGE_SIZE } from '../../../node/p2p/constants.ts'
import { P2PError } from '../../../node/p2p/errors.ts'
import { decodeOneOf } from '../../../node/p2p/wire/codec.ts'
import { SAMPLES } from './helpers/samples.ts'
import type { MessageDef } from '../../../node/p2p/wire/codec.ts'

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed)
const RUNS = 10_000

function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => { // mulberry32
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function fuzzInputs (def: MessageDef<any>, valid: Uint8Array, rnd: () => number): Generator<Uint8Array> {
  const int = (n: number): number => Math.floor(rnd() * n)
  const wild = (): unknown => {
    switch (int(12)) {
      case 0: return null
      case 1: return -int(1e9)
      case 2: return 2 ** 53 + int(10)
      case 3: return 'x'.repeat(int(5000))
      case 4: return Array.from({ length: int(2000) }, () => int(9))
      case 5: { let o: unknown = 1; for (let i = 0; i < int(500); i++) o = [o]; return o }
      case 6: return { nested: { deep: 'x' } }
      case 7: return '0x' + 'g'.repeat(64)
      case 8: return int(2) === 0
      case 9: return 1.5
      case 10: return 'AAAA'.repeat(int(100_000))
      default: return ''
    }
  }
  return (function * () {
    for (let i = 0; i < RUNS; i++) {
      const mode = int(6)
      if (mode === 0) {
        yield new Uint8Array(Array.from({ length: int(300) }, () => int(256)))
      } else if (mode === 1) {
        const b = new Uint8Array(valid)
        for (let k = 0; k <= int(4); k++) if (b.length > 0) b[int(b.length)] = int(256)
        yield b
      } else if (mode === 2) {
        yield valid.subarray(0, int(valid.length + 1))
      } else if (mode === 3) {
        const o = JSON.parse(new TextDecoder().decode(valid)) as Record<string, unknown>
        const keys = Object.keys(o)
        const key = int(5) === 0 ? `k${int(9)}` : keys[int(keys.length)] as string
        o[key] = wild()
        yield new TextEncoder().encode(JSON.stringify(o))
      } else if (mode === 4) {
        const o = JSON.parse(new TextDecoder().decode(valid)) as Record<string, unknown>
        const keys = Object.keys(o)
        delete o[keys[int(keys.length)] as string]
        yield new TextEncoder().encode(JSON.stringify(o))
      } else {
        // A valid message for another type, or a huge one.
        const other = SAMPLES[int(SAMPLES.length)] as [MessageDef<any>, any]
        yield int(10) === 0 ? new Uint8Array(MAX_MESSAGE_SIZE + 1 + int(1000)) : other[0].encode(other[1])
      }
    }
  })()
}

describe(`p2p wire decoders under fuzzing (seed ${SEED}, ${RUNS} inputs each)`, function () {
  this.timeout(300_000)
  for (const [def, sample] of SAMPLES) {
    it(`${def.type}: only typed errors, bounded output`, () => {
      const rnd = prng(SEED ^ def.type.length * 7919)
      const valid = def.encode(sample)
      let accepted = 0
      let n = 0
      for (const input of fuzzInputs(def, valid, rnd)) {
        n++
        try {
          const out = def.decode(input)
          accepted++
          // What came out is bounded by what went in (no amplification).
          const again = def.encode(out)
          if (again.length > input.length * 2 + 64) throw new Error(`input #${n} amplified ${input.length} -> ${again.length}`)
        } catch (err) {
          if (!(err instanceof P2PError)) throw new Error(`input #${n} (${Buffer.from(input.subarray(0, 200)).toString('hex')}) threw ${String(err)}`)
        }
        try { decodeOneOf(input, def) } catch (err) { if (!(err instanceof P2PError)) throw err }
      }
      expect(n).to.equal(RUNS)
      expect(accepted).to.be.lessThan(RUNS)
    })
  }
})
