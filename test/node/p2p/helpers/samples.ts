/** One valid value per wire message, for round-trip and fuzz tests. */
import * as M from '../../../../node/p2p/wire/messages.ts'
import type { MessageDef } from '../../../../node/p2p/wire/codec.ts'

const peer = '16Uiu2HAmBy3WqUVPbq2kt5ttJcDzBcfh8p1UPq6DcyVuqzD1f7Qe'
const h32 = '0x' + 'ab'.repeat(32)
const addr = '0x' + '12'.repeat(20)
const receipt = { dealId: h32, slot: 3, root: h32, size: 4096, supplier: peer, time: 1700000000000 }
const list = { supplier: peer, owner: addr, time: 1, entries: [{ dealId: h32, slot: 1, size: 256, root: h32 }] }
const offer = { peerId: peer, address: addr, capacity: 10n ** 12n, price: 5n, stake: 10n ** 18n, time: 1, expires: 2, addrs: ['/ip4/127.0.0.1/tcp/4001'] }
const gmsg = { id: 'aa', group: 'bb', from: peer, time: 5, box: new Uint8Array(40), sig: new Uint8Array(64) }

export const SAMPLES: Array<[MessageDef<any>, any]> = [
  [M.ErrorReply, { code: 'QuotaExceededError', message: 'full' }],
  [M.PutRequest, { dealId: h32, slot: 1, size: 256, root: h32, owner: addr }],
  [M.PutReady, {}],
  [M.Receipt, receipt],
  [M.PutResult, { receipt, sig: new Uint8Array(64).fill(7) }],
  [M.PutProgressMsg, { received: 4194304 }],
  [M.GetRequest, { dealId: h32, slot: 0, offset: 0, length: 0, proofs: false }],
  [M.GetReply, { size: 512, root: h32, offset: 0, length: 256, proofs: [[h32]] }],
  [M.ListRequest, { owner: addr }],
  [M.FragmentList, list],
  [M.ListResult, { list, sig: new Uint8Array(64) }],
  [M.Offer, offer],
  [M.SignedOffer, { offer, sig: new Uint8Array(64) }],
  [M.OfferRequest, {}],
  [M.DirectMessage, { id: 'ab12', from: peer, time: 9, sealed: new Uint8Array(100).fill(1) }],
  [M.Ack, { id: 'ab12' }],
  [M.DmPayload, { kind: 'text', text: 'hello' }],
  [M.GroupMessage, gmsg],
  [M.HistoryRequest, { group: 'bb', since: 0 }],
  [M.HistoryReply, { messages: [gmsg] }]
]
