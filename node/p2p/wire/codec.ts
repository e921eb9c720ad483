/**
 * The wire format, declared once: every message is UTF-8 JSON `{ v, t, ...fields }` inside a
 * length-prefixed frame, checked against a schema in which every field is bounded. Decoders
 * refuse oversized input, unknown versions, unknown or missing fields and anything out of bounds
 * with a typed error; encoders run the same checks so we never send what a peer would refuse.
 * JSON rather than a binary codec: control messages are small and rare next to fragment bytes.
 */
import { MAX_MESSAGE_SIZE, WIRE_VERSION } from '../constants.ts'
import { MalformedMessageError, MessageTooLargeError, UnsupportedVersionError } from '../errors.ts'

export type Field =
  | { readonly t: 'hex', readonly bytes: number }
  | { readonly t: 'int', readonly min?: number, readonly max: number }
  | { readonly t: 'big', readonly maxDigits: number }
  | { readonly t: 'str', readonly max: number, readonly pattern?: RegExp }
  | { readonly t: 'bytes', readonly max: number }
  | { readonly t: 'bool' }
  | { readonly t: 'arr', readonly of: Field, readonly max: number }
  | { readonly t: 'obj', readonly fields: Schema }
  | { readonly t: 'opt', readonly of: Field }
export type Schema = Readonly<Record<string, Field>>

export type Infer<F> =
  F extends { t: 'hex' } ? string
    : F extends { t: 'int' } ? number
      : F extends { t: 'big' } ? bigint
        : F extends { t: 'str' } ? string
          : F extends { t: 'bytes' } ? Uint8Array
            : F extends { t: 'bool' } ? boolean
              : F extends { t: 'arr', of: infer O } ? Array<Infer<O>>
                : F extends { t: 'obj', fields: infer S } ? InferSchema<S>
                  : F extends { t: 'opt', of: infer O } ? Infer<O> | undefined
                    : never
type OptKeys<S> = { [K in keyof S]: S[K] extends { t: 'opt' } ? K : never }[keyof S]
export type InferSchema<S> = { -readonly [K in Exclude<keyof S, OptKeys<S>>]: Infer<S[K]> } & { -readonly [K in OptKeys<S>]?: Infer<S[K]> }

/** Field helpers, so schemas read like declarations. */
export const f = {
  hex: (bytes: number) => ({ t: 'hex', bytes }) as const,
  int: (max: number = Number.MAX_SAFE_INTEGER, min = 0) => ({ t: 'int', max, min }) as const,
  big: (maxDigits = 78) => ({ t: 'big', maxDigits }) as const,
  str: (max: number, pattern?: RegExp) => ({ t: 'str', max, pattern }) as const,
  bytes: (max: number) => ({ t: 'bytes', max }) as const,
  bool: () => ({ t: 'bool' }) as const,
  arr: <O extends Field>(of: O, max: number) => ({ t: 'arr', of, max }) as const,
  obj: <S extends Schema>(fields: S) => ({ t: 'obj', fields }) as const,
  opt: <O extends Field>(of: O) => ({ t: 'opt', of }) as const
}

const HEX = /^0x[0-9a-f]*$/
const DIGITS = /^(0|[1-9][0-9]*)$/
const B64 = /^[A-Za-z0-9+/]*={0,2}$/

function fail (path: string, why: string): never {
  throw new MalformedMessageError(`Malformed message: ${path} ${why}. The peer runs an incompatible or faulty version; update both nodes.`)
}

/** Wire value (JSON) -> typed value; throws MalformedMessageError. */
function fromWire (field: Field, v: unknown, path: string): unknown {
  switch (field.t) {
    case 'hex':
      if (typeof v !== 'string' || v.length !== 2 + field.bytes * 2 || !HEX.test(v)) fail(path, `must be ${field.bytes} bytes of lowercase 0x-hex`)
      return v
    case 'int':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < (field.min ?? 0) || v > field.max) fail(path, `must be an integer in [${field.min ?? 0}, ${field.max}]`)
      return v
    case 'big':
      if (typeof v !== 'string' || v.length > field.maxDigits || !DIGITS.test(v)) fail(path, `must be a decimal integer of at most ${field.maxDigits} digits`)
      return BigInt(v)
    case 'str':
      if (typeof v !== 'string' || v.length > field.max || (field.pattern != null && !field.pattern.test(v))) fail(path, `must be a string of at most ${field.max} characters${field.pattern != null ? ' matching ' + String(field.pattern) : ''}`)
      return v
    case 'bytes': {
      if (typeof v !== 'string' || v.length > Math.ceil(field.max / 3) * 4 || v.length % 4 !== 0 || !B64.test(v)) fail(path, `must be base64 of at most ${field.max} bytes`)
      const out = new Uint8Array(Buffer.from(v, 'base64'))
      if (out.length > field.max) fail(path, `must be at most ${field.max} bytes`)
      return out
    }
    case 'bool':
      if (typeof v !== 'boolean') fail(path, 'must be a boolean')
      return v
    case 'arr':
      if (!Array.isArray(v) || v.length > field.max) fail(path, `must be an array of at most ${field.max} items`)
      return v.map((x, i) => fromWire(field.of, x, `${path}[${i}]`))
    case 'obj':
      return objFromWire(field.fields, v, path)
    case 'opt':
      return v === undefined || v === null ? undefined : fromWire(field.of, v, path)
  }
}

function objFromWire (schema: Schema, v: unknown, path: string, skip: readonly string[] = []): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object')
  const o = v as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(o)) {
    if (!Object.hasOwn(schema, key) && !skip.includes(key)) fail(`${path}.${key}`, 'is not a known field')
  }
  for (const [key, field] of Object.entries(schema)) {
    if (!Object.hasOwn(o, key) && field.t !== 'opt') fail(`${path}.${key}`, 'is missing')
    const value = fromWire(field, o[key], `${path}.${key}`)
    if (value !== undefined) out[key] = value
  }
  return out
}

/** Typed value -> wire value (JSON); checks bounds by decoding what it produced. */
function toWire (field: Field, v: unknown): unknown {
  switch (field.t) {
    case 'big': return typeof v === 'bigint' ? v.toString() : v
    case 'bytes': return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : v
    case 'arr': return Array.isArray(v) ? v.map((x) => toWire(field.of, x)) : v
    case 'obj': return objToWire(field.fields, v)
    case 'opt': return v === undefined ? undefined : toWire(field.of, v)
    default: return v
  }
}

function objToWire (schema: Schema, v: unknown): Record<string, unknown> {
  const o = v as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const [key, field] of Object.entries(schema)) {
    const w = toWire(field, o?.[key])
    if (w !== undefined) out[key] = w
  }
  return out
}

export interface MessageDef<S extends Schema> {
  readonly type: string
  readonly schema: S
  encode: (value: InferSchema<S>) => Uint8Array
  decode: (bytes: Uint8Array) => InferSchema<S>
  /** The plain value (used to sign a message canonically). */
  toJSON: (value: InferSchema<S>) => Record<string, unknown>
}

const decoder = new TextDecoder('utf-8', { fatal: true })
const encoder = new TextEncoder()

/** Parses the envelope; returns its type and the raw object. */
function parseEnvelope (bytes: Uint8Array, maxSize: number): { t: string, o: Record<string, unknown> } {
  if (bytes.length > maxSize) throw new MessageTooLargeError(`Message of ${bytes.length} bytes is over the ${maxSize}-byte limit; the peer must send less.`)
  let o: unknown
  try {
    o = JSON.parse(decoder.decode(bytes))
  } catch {
    fail('message', 'is not UTF-8 JSON')
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) fail('message', 'must be an object')
  const env = o as Record<string, unknown>
  if (env.v !== WIRE_VERSION) {
    if (typeof env.v === 'number') throw new UnsupportedVersionError(`Wire version ${env.v} is not supported (this node speaks ${WIRE_VERSION}); update the older node.`)
    fail('message.v', 'is missing')
  }
  if (typeof env.t !== 'string' || env.t.length > 64) fail('message.t', 'is missing')
  return { t: env.t, o: env }
}

export function defineMessage<S extends Schema> (type: string, schema: S, maxSize: number = MAX_MESSAGE_SIZE): MessageDef<S> {
  const def: MessageDef<S> = {
    type,
    schema,
    toJSON: (value) => objToWire(schema, value),
    encode (value) {
      const wire = { v: WIRE_VERSION, t: type, ...objToWire(schema, value) }
      objFromWire(schema, wire, type, ['v', 't'])
      const bytes = encoder.encode(JSON.stringify(wire))
      if (bytes.length > maxSize) throw new MessageTooLargeError(`${type} of ${bytes.length} bytes is over the ${maxSize}-byte limit`)
      return bytes
    },
    decode (bytes) {
      const { t, o } = parseEnvelope(bytes, maxSize)
      if (t !== type) fail('message.t', `is ${JSON.stringify(t)}, expected ${JSON.stringify(type)}`)
      return objFromWire(schema, o, type, ['v', 't']) as InferSchema<S>
    }
  }
  return def
}

export type Decoded<D> = D extends MessageDef<infer S> ? { type: D['type'], value: InferSchema<S> } : never

/** Decodes a message that may be any of `defs` (e.g. a result or an error). */
export function decodeOneOf<D extends Array<MessageDef<any>>> (bytes: Uint8Array, ...defs: D): { def: D[number], value: any } {
  const maxSize = MAX_MESSAGE_SIZE
  const { t } = parseEnvelope(bytes, maxSize)
  const def = defs.find((d) => d.type === t)
  if (def == null) fail('message.t', `is ${JSON.stringify(t)}, expected one of ${defs.map((d) => d.type).join(', ')}`)
  return { def, value: def.decode(bytes) }
}

/** Canonical bytes to sign: a domain tag and the wire JSON of the signed fields in schema order. */
export function signable (domain: string, def: MessageDef<any>, value: unknown): Uint8Array {
  return encoder.encode(`${domain}\n${JSON.stringify(def.toJSON(value as never))}`)
}
