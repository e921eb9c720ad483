/**
 * Supplier offers: what a supplier sells (capacity, price per byte per period, stake), signed with
 * its peer key. The chain address inside must be the one its peer id implies, so a peer cannot
 * advertise someone else's stake.
 */
import { MAX_OFFER_TTL_MS } from '../constants.ts'
import { AddressMismatchError, InvalidSignatureError, OfferExpiredError } from '../errors.ts'
import { addressOfPeer, signBytes, verifyByPeer } from '../peer-identity.ts'
import { signable } from '../wire/codec.ts'
import { Offer } from '../wire/messages.ts'
import type { InferSchema } from '../wire/codec.ts'
import type { PrivateKey } from '@libp2p/interface'

export const OFFER_DOMAIN = 'bitdust:offer:v1'

export type SupplierOffer = InferSchema<typeof Offer.schema>
export interface SignedSupplierOffer { offer: SupplierOffer, sig: Uint8Array }

export interface OfferTerms {
  /** Free bytes offered. */
  capacity: bigint
  /** Token base units per byte per period. */
  price: bigint
  /** Stake the supplier claims to hold (checked against the chain by consumers). */
  stake: bigint
}

export async function signOffer (key: PrivateKey, peerId: string, terms: OfferTerms, addrs: string[], ttlMs: number, now = Date.now()): Promise<SignedSupplierOffer> {
  const offer: SupplierOffer = {
    peerId,
    address: addressOfPeer(peerId),
    capacity: terms.capacity,
    price: terms.price,
    stake: terms.stake,
    time: now,
    expires: now + ttlMs,
    addrs
  }
  return { offer, sig: await signBytes(key, signable(OFFER_DOMAIN, Offer, offer)) }
}

/** Throws OfferExpiredError, AddressMismatchError or InvalidSignatureError. */
export async function verifyOffer (signed: SignedSupplierOffer, now = Date.now()): Promise<void> {
  const o = signed.offer
  if (o.expires <= now) throw new OfferExpiredError(`The offer of ${o.peerId} expired at ${new Date(o.expires).toISOString()}.`)
  if (o.expires - o.time > MAX_OFFER_TTL_MS || o.time > now + 60_000) throw new OfferExpiredError(`The offer of ${o.peerId} has an implausible lifetime; its clock may be wrong.`)
  let address: string
  try {
    address = addressOfPeer(o.peerId)
  } catch (err) {
    throw new InvalidSignatureError((err as Error).message)
  }
  if (address !== o.address) throw new AddressMismatchError(`Offer of ${o.peerId} names address ${o.address}, but its key belongs to ${address}.`)
  if (!(await verifyByPeer(o.peerId, signable(OFFER_DOMAIN, Offer, o), signed.sig))) {
    throw new InvalidSignatureError(`The offer of ${o.peerId} is not signed by that peer.`)
  }
}
