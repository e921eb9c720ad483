/**
 * The composition root: which services a node runs, built from its configuration. This is the
 * one place that knows every module; the modules themselves only know narrow interfaces, and
 * the adapters between them live here.
 */
import { base58btc } from 'multiformats/bases/base58'
import type { Address, Hex } from 'viem'
import type { NodeService, NodeServices } from './node.ts'
import { NoNetworkError } from './config/errors.ts'
import { createBitDustChain } from './chain/client.ts'
import type { BitDustChain } from './chain/client.ts'
import { statement, statementToJson } from './chain/ledger.ts'
import { audit, auditToJson } from './chain/audit.ts'
import { shownUrl } from './chain/errors.ts'
import { createP2PNode, levelMessageStore } from './p2p/index.ts'
import type { P2PNode } from './p2p/index.ts'
import { peerIdOfPublicKey } from './p2p/peer-of-key.ts'
import { ConsumerService } from './consumer/service.ts'
import type { ConsumerNet } from './consumer/service.ts'
import { NOT_SUPPLYING_ROUTES, SupplierService } from './supplier/service.ts'
import type { SupplierNet } from './supplier/service.ts'
import { SHARE_PREFIX, socialService } from './social.ts'
import { BadRequestError } from './api/errors.ts'

/** Peer ids are registered on chain as their binary multihash. */
const peerIdBytes = (peerId: string): Uint8Array => base58btc.baseDecode(peerId)
const peerIdFromBytes = (bytes: Hex): string => base58btc.baseEncode(Buffer.from(bytes.slice(2), 'hex'))

export class UnknownSupplierError extends Error {
  override name = 'UnknownSupplierError'
}

/** Resolves a supplier's chain address to its registered peer id (cached: registrations are stable). */
function peerDirectory (chain: BitDustChain): (address: Address) => Promise<string> {
  const cache = new Map<string, string>()
  return async (address) => {
    const key = address.toLowerCase()
    const hit = cache.get(key)
    if (hit !== undefined) return hit
    const info = await chain.staking.supplier(address)
    if (info.peerId.length <= 2) throw new UnknownSupplierError(`${address} is not a registered supplier.`)
    const id = peerIdFromBytes(info.peerId)
    cache.set(key, id)
    return id
  }
}

function consumerNet (p2p: P2PNode, peerOf: (a: Address) => Promise<string>): ConsumerNet {
  return {
    offers: async (atLeast) => (await p2p.discovery.findSuppliers(atLeast !== undefined ? { atLeast } : {})).map((o) => ({ peerId: o.peerId, address: o.address as Address, capacity: o.capacity, price: o.price, stake: o.stake })),
    peerOf,
    putFragment: async (peerId, meta, source, options) => {
      const r = await p2p.putFragment(peerId, { dealId: meta.dealId.toLowerCase(), slot: meta.slot, size: meta.size, root: meta.root.toLowerCase(), owner: p2p.address }, source, {
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: (e) => { if (e.type === 'fragment:put:bytes') options.onBytes?.(e.sent) },
        ...(options.commit !== undefined ? { commit: options.commit } : {}),
      })
      return { peerId, dealId: r.receipt.dealId as Hex, slot: r.receipt.slot, root: r.receipt.root as Hex }
    },
    getFragment: (peerId, dealId, slot, range, signal) => p2p.getFragment(peerId, dealId.toLowerCase(), slot, { ...range, root: range.root.toLowerCase() }, signal ? { signal } : {}),
    listing: async (peerId, owner, signal) => (await p2p.listFragments(peerId, owner.toLowerCase(), signal ? { signal } : {})).list.entries.map((e) => ({ dealId: e.dealId as Hex, slot: e.slot, root: e.root as Hex })),
    sendShare: async (publicKey, sealed, text) => {
      const peer = peerIdOfPublicKey(publicKey)
      await p2p.messages.send(peer, SHARE_PREFIX + Buffer.from(sealed).toString('base64'))
      await p2p.messages.send(peer, text)
    },
    onShare: (handler) => {
      p2p.messages.onMessage((m) => {
        if (m.direction === 'in' && m.text.startsWith(SHARE_PREFIX)) handler(Buffer.from(m.text.slice(SHARE_PREFIX.length), 'base64'), m.from)
      })
    },
  }
}

function supplierNet (p2p: P2PNode, peerOf: (a: Address) => Promise<string>): SupplierNet {
  return {
    peerId: p2p.peerId,
    publishOffer: async (terms) => { await p2p.discovery.publish(terms) },
    knownSuppliers: () => p2p.discovery.cache.list().map((o) => o.address as Address),
    peerOf,
    getFragment: (peerId, dealId, slot, range, signal) => p2p.getFragment(peerId, dealId.toLowerCase(), slot, { root: range.root.toLowerCase() }, signal ? { signal } : {}),
  }
}

export async function createServices (shared: NodeServices): Promise<NodeService[]> {
  const { config, identity, db } = shared
  const network = config.network
  if (network === undefined) throw new NoNetworkError(config.datadir)
  const chain = createBitDustChain({ rpcUrl: network.rpcUrl, chainId: network.chainId, contracts: network.contracts, deployBlock: network.deployBlock, privateKey: identity.privateKeyHex })
  await chain.checkNetwork()
  const peerOf = peerDirectory(chain)

  const supplier = config.supply.enabled ? new SupplierService({ ...shared, chain }) : undefined
  const p2p = await createP2PNode({
    privateKey: identity.privateKey,
    listen: config.listen,
    bootstrap: network.bootstrap,
    relay: { serve: config.relay.serve, hide: config.relay.hide, relays: config.relay.hide && config.relay.relays.length === 0 ? network.bootstrap : config.relay.relays },
  }, {
    ...(supplier ? { fragments: supplier.backend } : {}),
    stake: { stakeOf: async (address: `0x${string}`) => await chain.staking.freeStake(address as Address) },
    messages: levelMessageStore(db.sublevel<string, string>('messages', { valueEncoding: 'utf8' })),
  })
  supplier?.attach(supplierNet(p2p, peerOf), peerIdBytes)
  const consumer = new ConsumerService({ ...shared, chain, net: consumerNet(p2p, peerOf) }, { watchIntervalMs: config.watchMs, periods: config.periods, autoRenew: config.autoRenew })

  const chainService: NodeService = {
    name: 'chain',
    status: async () => {
      const [block, tokens, eth] = await Promise.all([chain.blockNumber(), chain.token.balanceOf(identity.address), chain.ethBalance(identity.address)])
      return { chainId: network.chainId, rpcUrl: shownUrl(network.rpcUrl), block: Number(block), tokens, eth }
    },
    routes: [
      {
        method: 'GET',
        path: '/balance',
        handler: async () => {
          const me = identity.address
          const s = await chain.staking.stakeInfo(me)
          return { tokens: await chain.token.balanceOf(me), staked: s.staked, locked: s.locked, unbonding: s.unbonding, earnings: await chain.market.earnings(me), eth: await chain.ethBalance(me) }
        },
      },
      {
        method: 'GET',
        path: '/ledger',
        handler: async (r) => {
          const account = r.query.get('account') ?? identity.address
          if (!/^0x[0-9a-fA-F]{40}$/.test(account)) throw new BadRequestError(`${account} is not a chain address (0x followed by 40 hex digits).`)
          return statementToJson(await statement(chain, account as Address, { signal: r.signal }))
        },
      },
      { method: 'GET', path: '/audit', handler: async (r) => auditToJson(await audit(chain, { signal: r.signal })) },
    ],
  }
  const p2pService: NodeService = {
    name: 'p2p',
    start: async () => {
      await p2p.start()
      await supplier?.begin()
    },
    stop: async () => { await p2p.stop() },
    status: async () => ({ peerId: p2p.peerId, multiaddrs: p2p.multiaddrs(), peers: p2p.libp2p.getPeers().length, hidden: p2p.hidden, relay: config.relay.serve }),
    routes: [{
      method: 'GET',
      path: '/peers',
      // Who we are connected to and the address each connection comes from (what a peer "sees").
      handler: async () => p2p.libp2p.getConnections().map((c) => ({ peerId: c.remotePeer.toString(), remoteAddr: c.remoteAddr.toString(), direction: c.direction, limited: c.limits !== undefined })),
    }],
  }
  const services: NodeService[] = [chainService]
  if (supplier) {
    services.push({ name: 'store', start: async () => { await supplier.start() }, stop: async () => { await supplier.stop() } })
  }
  services.push(p2pService)
  services.push({ name: 'consumer', start: async () => { await consumer.start() }, stop: async () => { await consumer.stop() }, routes: consumer.routes, status: async () => await consumer.status() })
  services.push(supplier ? { name: 'supplier', routes: supplier.routes, status: async () => await supplier.status() } : { name: 'supplier', routes: NOT_SUPPLYING_ROUTES })
  services.push(socialService({ db, p2p, share: async (id, contact) => await consumer.share(id, contact) }))
  return services
}
