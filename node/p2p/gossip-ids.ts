/**
 * A cheap id for each gossip message as it arrives, so that gossipsub drops copies before it
 * checks their signatures.
 *
 * gossipsub verifies a message's signature (secp256k1 in pure JS, ~1–2 ms) and only then asks
 * whether it has seen that message: every node gets each message once from every mesh peer, so
 * each copy cost a full verification. On the 4+2 devnet that was a fifth of a supplier's
 * JavaScript while an upload changed the suppliers' offers. With this id, a copy identical to a
 * message already accepted is recognised by one SHA-256 of its bytes. The hash covers the
 * signature too: a forged copy (same content, another signature) is not taken for the original
 * and still goes through verification. Ids are remembered only for messages that passed it.
 * (Our gossip is now unsigned by gossipsub, libp2p.ts: the id then covers topic and data, and a
 * copy is dropped before the topic's validator checks the payload's own signature again.)
 */
import { createHash } from 'node:crypto'

interface RpcMessage {
  from?: Uint8Array
  data?: Uint8Array
  seqno?: Uint8Array
  topic: string
  signature?: Uint8Array
  key?: Uint8Array
}

/** Length-prefixed fields, so that no two different messages hash the same bytes. */
export function gossipFastMsgId (msg: RpcMessage): string {
  const h = createHash('sha256')
  const len = Buffer.alloc(4)
  for (const part of [msg.from, msg.seqno, Buffer.from(msg.topic), msg.data, msg.signature, msg.key]) {
    len.writeUInt32BE(part === undefined ? 0xffffffff : part.length)
    h.update(len)
    if (part !== undefined) h.update(part)
  }
  return h.digest('base64')
}
