import { expect } from 'chai'
import { MAX_MESSAGE_SIZE } from '../../../node/p2p/constants.ts'
import { decodeReply, ErrorReply, PutRequest, PutResult } from '../../../node/p2p/wire/messages.ts'
import { SAMPLES } from './helpers/samples.ts'

const enc = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o))
function throwsNamed (fn: () => unknown, name: string): void {
  try { fn() } catch (err) { expect((err as Error).name, (err as Error).message).to.equal(name); return }
  throw new Error(`expected ${name}`)
}

describe('p2p wire codec', () => {
  it('round-trips every message', () => {
    for (const [def, value] of SAMPLES) {
      expect(def.decode(def.encode(value)), def.type).to.deep.equal(value)
    }
  })

  const put = { v: 1, t: 'put', dealId: '0x' + 'ab'.repeat(32), slot: 1, size: 256, root: '0x' + 'cd'.repeat(32), owner: '0x' + '12'.repeat(20) }

  it('rejects oversized input before parsing it', () => {
    throwsNamed(() => PutRequest.decode(new Uint8Array(MAX_MESSAGE_SIZE + 1)), 'MessageTooLargeError')
  })
  it('rejects unknown versions', () => {
    throwsNamed(() => PutRequest.decode(enc({ ...put, v: 2 })), 'UnsupportedVersionError')
  })
  it('rejects unknown fields, missing fields, wrong types and out-of-bounds values', () => {
    throwsNamed(() => PutRequest.decode(enc({ ...put, extra: 1 })), 'MalformedMessageError')
    throwsNamed(() => PutRequest.decode(enc({ ...put, root: undefined })), 'MalformedMessageError')
    throwsNamed(() => PutRequest.decode(enc({ ...put, slot: '1' })), 'MalformedMessageError')
    throwsNamed(() => PutRequest.decode(enc({ ...put, slot: -1 })), 'MalformedMessageError')
    throwsNamed(() => PutRequest.decode(enc({ ...put, size: 2 ** 40 })), 'MalformedMessageError')
    throwsNamed(() => PutRequest.decode(enc({ ...put, dealId: '0xAB' + 'ab'.repeat(31) })), 'MalformedMessageError')
    throwsNamed(() => PutRequest.decode(enc({ ...put, t: 'get' })), 'MalformedMessageError')
    throwsNamed(() => PutRequest.decode(new Uint8Array([0xff, 0xfe])), 'MalformedMessageError')
    throwsNamed(() => PutRequest.decode(enc([1, 2])), 'MalformedMessageError')
  })
  it('refuses to encode what a peer would refuse', () => {
    throwsNamed(() => PutRequest.encode({ ...put, slot: 5000 } as any), 'MalformedMessageError')
  })
  it('turns an error reply back into the same error class', () => {
    throwsNamed(() => decodeReply(ErrorReply.encode({ code: 'QuotaExceededError', message: 'full' }), PutResult), 'QuotaExceededError')
    throwsNamed(() => decodeReply(ErrorReply.encode({ code: 'SomethingNew', message: 'x' }), PutResult), 'RemoteError')
  })
})
