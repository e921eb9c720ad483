/**
 * node/p2p: how BitDust nodes find each other and move data. The only module that imports libp2p.
 *
 *   const p2p = await createP2PNode({ privateKey, listen, bootstrap, relay }, { fragments, stake, messages })
 *   await p2p.start()
 *   await p2p.discovery.publish({ capacity, price, stake })          // supplier
 *   const offers = await p2p.discovery.findSuppliers({ minCapacity }) // consumer
 *   const { receipt, sig } = await p2p.putFragment(peerId, meta, source, { onProgress, signal })
 *   for await (const chunk of p2p.getFragment(peerId, dealId, slot, { root })) …
 *   const { list } = await p2p.listFragments(peerId, ownerAddress)
 *   await p2p.messages.send(peerId, 'hi'); p2p.messages.onMessage(m => …)
 *   const g = await p2p.groups.create('name', [peerId]); await p2p.groups.send(g.id, 'hello')
 *   await p2p.stop()
 */
export { createP2PNode, P2PNode } from './node.ts'
export type { P2PNodeInit, P2PNodeComponents } from './node.ts'
export type { RelayInit } from './libp2p.ts'
export * from './constants.ts'
export * from './errors.ts'
export { Discovery, OfferCache, signOffer, verifyOffer, suppliersKey } from './discovery/index.ts'
export type { OfferTerms, SupplierOffer, SignedSupplierOffer, StakeChecker, OfferQuery, DiscoveryInit } from './discovery/index.ts'
export type { FragmentBackend, FragmentMeta } from './fragments/backend.ts'
export { verifyReceipt } from './fragments/client.ts'
export type { FragmentReceipt, SignedReceipt, FragmentListing, SignedListing, PutOptions, PutProgress, GetRange, GetOptions, GetProgress } from './fragments/client.ts'
export { toHex, fromHex } from './wire/hex.ts'
export { RECEIPT_DOMAIN, LIST_DOMAIN } from './fragments/server.ts'
export { DirectMessages } from './messaging/direct.ts'
export type { DirectMessagesInit, DmContent } from './messaging/direct.ts'
export { Groups } from './messaging/groups.ts'
export type { Group } from './messaging/groups.ts'
export { MemoryMessageStore, levelMessageStore } from './messaging/store.ts'
export type { MessageStore, StoredMessage, LevelLike } from './messaging/store.ts'
export { addressOfPeer, publicKeyOfPeer, verifyByPeer } from './peer-identity.ts'
export { peerIdOfPublicKey } from './peer-of-key.ts'
