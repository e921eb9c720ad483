/**
 * Every message of every BitDust protocol, declared once. Sizes: a bytes32 is 32 bytes of hex,
 * an address 20; peer ids are base58btc; amounts are decimal bigints (at most 78 digits = 2^256).
 */
import { MAX_FRAGMENT_SIZE, MAX_LIST_ENTRIES, MAX_MESSAGE_SIZE, MAX_MESSAGE_TEXT, MAX_OFFER_ADDRS, MAX_PROVEN_SEGMENTS } from '../constants.ts'
import { codeOf, errorFromCode, UnexpectedMessageError } from '../errors.ts'
import { decodeOneOf, defineMessage, f } from './codec.ts'
import type { InferSchema, MessageDef, Schema } from './codec.ts'

const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{32,128}$/
const peerId = f.str(128, PEER_ID)
const bytes32 = f.hex(32)
const address = f.hex(20)
const time = f.int()
const slot = f.int(1023)
const size = f.int(MAX_FRAGMENT_SIZE, 1)
const sig = f.bytes(128)

export const ErrorReply = defineMessage('error', {
  code: f.str(64, /^[A-Za-z]+$/),
  message: f.str(1024)
})

/** The ErrorReply frame telling the peer why we failed: our error's wire code and message. */
export function errorReply (err: unknown): Uint8Array {
  return ErrorReply.encode({ code: codeOf(err), message: String((err as Error | undefined)?.message ?? err).slice(0, 1024) })
}

/* fragment put */
export const PutRequest = defineMessage('put', { dealId: bytes32, slot, size, root: bytes32, owner: address })
export const PutReady = defineMessage('ready', {})
export const Receipt = defineMessage('receipt', { dealId: bytes32, slot, root: bytes32, size, supplier: peerId, time })
export const PutResult = defineMessage('put-result', { receipt: f.obj(Receipt.schema), sig })
/** Sent by the supplier every few MiB it has taken in, so a sender waiting for its receipt can tell slow from dead. */
export const PutProgressMsg = defineMessage('put-progress', { received: f.int(MAX_FRAGMENT_SIZE) })
/**
 * A put announced with ROOT_LATER: the supplier has every byte and reports the root it hashed;
 * it keeps the fragment only if the consumer answers with put-commit naming the same root, once
 * the deal that commits to it is open on chain.
 */
export const PutHashed = defineMessage('put-hashed', { root: bytes32 })
export const PutCommit = defineMessage('put-commit', { root: bytes32 })

/* fragment get */
export const GetRequest = defineMessage('get', { dealId: bytes32, slot, offset: f.int(MAX_FRAGMENT_SIZE), length: f.int(MAX_FRAGMENT_SIZE), proofs: f.bool() })
export const GetReply = defineMessage('get-reply', {
  size,
  root: bytes32,
  offset: f.int(MAX_FRAGMENT_SIZE),
  length: f.int(MAX_FRAGMENT_SIZE),
  /** With `proofs`: one sibling path per segment of the range, leaf level first. */
  proofs: f.opt(f.arr(f.arr(bytes32, 40), MAX_PROVEN_SEGMENTS))
})

/* fragment list */
export const ListRequest = defineMessage('list', { owner: address })
export const FragmentEntry = f.obj({ dealId: bytes32, slot, size, root: bytes32 })
export const FragmentList = defineMessage('fragment-list', { supplier: peerId, owner: address, time, entries: f.arr(FragmentEntry, MAX_LIST_ENTRIES) })
export const ListResult = defineMessage('list-result', { list: f.obj(FragmentList.schema), sig })

/* discovery */
export const Offer = defineMessage('offer', {
  peerId,
  address,
  capacity: f.big(),
  price: f.big(),
  stake: f.big(),
  time,
  expires: time,
  addrs: f.arr(f.str(256), MAX_OFFER_ADDRS)
})
export const SignedOffer = defineMessage('signed-offer', { offer: f.obj(Offer.schema), sig })
export const OfferRequest = defineMessage('offer-request', {})

/* direct messages */
export const DirectMessage = defineMessage('dm', {
  id: f.str(64, /^[0-9a-f]+$/),
  from: peerId,
  time,
  /** The payload sealed to the recipient's public key (ECIES). */
  sealed: f.bytes(MAX_MESSAGE_TEXT + 1024)
})
export const Ack = defineMessage('ack', { id: f.str(64, /^[0-9a-f]+$/) })

/** What is inside a sealed direct message. */
export const DmPayload = defineMessage('dm-payload', {
  kind: f.str(16, /^(text|group-invite)$/),
  text: f.opt(f.str(MAX_MESSAGE_TEXT)),
  group: f.opt(f.obj({ id: f.str(64, /^[0-9a-f]+$/), name: f.str(128), key: f.bytes(32), members: f.arr(peerId, 256) }))
}, MAX_MESSAGE_SIZE)

/* group chat */
export const GroupMessage = defineMessage('group-msg', {
  id: f.str(64, /^[0-9a-f]+$/),
  group: f.str(64, /^[0-9a-f]+$/),
  from: peerId,
  time,
  /** AES-256-GCM under the group key: 12-byte nonce || ciphertext || tag. */
  box: f.bytes(MAX_MESSAGE_TEXT + 64),
  sig
})
export const HistoryRequest = defineMessage('history-request', { group: f.str(64, /^[0-9a-f]+$/), since: time })
export const HistoryReply = defineMessage('history-reply', { messages: f.arr(f.obj(GroupMessage.schema), 64) }, 8 * MAX_MESSAGE_SIZE)

/**
 * Decodes a reply that is either `def` or an ErrorReply; an ErrorReply is thrown as the same error
 * class the peer raised.
 */
export function decodeReply<S extends Schema> (bytes: Uint8Array, def: MessageDef<S>): InferSchema<S> {
  const { def: got, value } = decodeOneOf(bytes, def, ErrorReply)
  if (got.type === ErrorReply.type) {
    const e = value as InferSchema<typeof ErrorReply.schema>
    throw errorFromCode(e.code, e.message)
  }
  return value as InferSchema<S>
}

export function expect<S extends Schema> (bytes: Uint8Array, def: MessageDef<S>): InferSchema<S> {
  try {
    return def.decode(bytes)
  } catch (err) {
    if ((err as Error).name === 'MalformedMessageError' && bytes.length > 0) {
      throw new UnexpectedMessageError(`Expected a ${def.type} message: ${(err as Error).message}`)
    }
    throw err
  }
}
