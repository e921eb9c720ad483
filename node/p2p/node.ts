/**
 * A BitDust peer: the libp2p stack plus our protocols. `createP2PNode(init, components)` returns
 * a Startable; the node module wires in the fragment store (suppliers), the stake checker
 * (consumers) and the message store.
 */
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { log as makeLog } from '../log.ts'
import { DEFAULT_IDLE_TIMEOUT_MS, PROTOCOL_RAW_SINK } from './constants.ts'
import { NoRelayError, PeerUnreachableError } from './errors.ts'
import { Discovery } from './discovery/index.ts'
import { getFragment, listFragments, putFragment } from './fragments/client.ts'
import { FragmentServer } from './fragments/server.ts'
import { buildLibp2p } from './libp2p.ts'
import { addressOfPeer } from './peer-identity.ts'
import { DirectMessages } from './messaging/direct.ts'
import { Groups } from './messaging/groups.ts'
import { MemoryMessageStore } from './messaging/store.ts'
import type { DiscoveryInit, StakeChecker } from './discovery/index.ts'
import type { DirectMessagesInit } from './messaging/direct.ts'
import type { MessageStore } from './messaging/store.ts'
import type { FragmentBackend, FragmentMeta } from './fragments/backend.ts'
import type { GetOptions, GetRange, PutOptions, SignedListing, SignedReceipt } from './fragments/client.ts'
import type { BitDustLibp2p, RelayInit } from './libp2p.ts'
import type { Logger } from '../log.ts'
import type { AbortOptions, Connection, PrivateKey, Startable, Stream } from '@libp2p/interface'

export interface P2PNodeInit {
  /** The user's 32-byte secp256k1 private key, or the libp2p key made from it. */
  privateKey: Uint8Array | PrivateKey
  /** Default /ip4/127.0.0.1/tcp/0. Ignored when hiding. */
  listen?: string[]
  announce?: string[]
  bootstrap?: string[]
  relay?: RelayInit
  /** Keep loopback/private addresses in the DHT. Default true (tests, LANs). */
  privateAddresses?: boolean
  /** Inbound connections per second from one host; default libp2p's 5 (100 for relays). */
  inboundConnectionThreshold?: number
  /** A peer silent this long in a transfer is dropped. */
  idleTimeoutMs?: number
  /** How long this supplier keeps a fragment sent before its deal, waiting for the commit. */
  commitWaitMs?: number
  discovery?: DiscoveryInit
  messaging?: DirectMessagesInit
}

export interface P2PNodeComponents {
  /** The supplier's fragment store; without it this node refuses fragment requests. */
  fragments?: FragmentBackend
  /** Confirms a supplier's claimed stake on chain. */
  stake?: StakeChecker
  /** Message history and outbox; default in memory (a level sublevel in the real node). */
  messages?: MessageStore
  log?: Logger
}

export class P2PNode implements Startable {
  readonly libp2p: BitDustLibp2p
  readonly privateKey: PrivateKey
  readonly peerId: string
  /** Chain address of this node's key (lowercase). */
  readonly address: `0x${string}`
  readonly discovery: Discovery
  /** End-to-end encrypted direct messages with an outbox. */
  readonly messages: DirectMessages
  /** Encrypted group chats. */
  readonly groups: Groups
  readonly relay: RelayInit
  readonly log: Logger
  private readonly fragmentServer: FragmentServer | undefined
  private readonly idleTimeoutMs: number
  private readonly extraStarts: Startable[] = []

  constructor (libp2p: BitDustLibp2p, privateKey: PrivateKey, init: P2PNodeInit, components: P2PNodeComponents) {
    this.libp2p = libp2p
    this.privateKey = privateKey
    this.peerId = libp2p.peerId.toString()
    this.address = addressOfPeer(this.peerId)
    this.relay = init.relay ?? {}
    this.log = components.log ?? makeLog('p2p')
    this.idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    this.discovery = new Discovery({
      libp2p,
      privateKey,
      stake: components.stake,
      log: this.log,
      openStream: async (peer, protocol, options) => await this.openStream(peer, protocol, options),
      addrs: () => this.multiaddrs().slice(0, 8)
    }, init.discovery)
    const open = async (peer: string, protocol: string, options?: AbortOptions): Promise<Stream> => await this.openStream(peer, protocol, options)
    const store = components.messages ?? new MemoryMessageStore()
    this.messages = new DirectMessages({ libp2p, secret: privateKey.raw, store, openStream: open, log: this.log }, init.messaging)
    this.groups = new Groups({ libp2p, privateKey, direct: this.messages, store, openStream: open, log: this.log })
    this.extraStarts.push(this.messages, this.groups)
    if (components.fragments != null) {
      this.fragmentServer = new FragmentServer({ backend: components.fragments, privateKey, peerId: this.peerId, log: this.log }, { idleTimeoutMs: this.idleTimeoutMs, ...(init.commitWaitMs !== undefined ? { commitWaitMs: init.commitWaitMs } : {}) })
    }
  }

  /** Adds a part (messaging, groups) that starts and stops with the node. */
  attach (part: Startable): void {
    this.extraStarts.push(part)
  }

  get hidden (): boolean {
    return this.relay.hide === true
  }

  async start (): Promise<void> {
    await this.libp2p.start()
    if (this.fragmentServer != null) await this.fragmentServer.register(this.libp2p)
    await this.discovery.start()
    for (const p of this.extraStarts) await p.start()
    if (this.hidden) await this.waitForRelayAddress()
  }

  async stop (): Promise<void> {
    for (const p of [...this.extraStarts].reverse()) await p.stop()
    await this.discovery.stop()
    await this.libp2p.stop()
  }

  /** Our dialable addresses (with /p2p/<id>); for a hidden node only relay circuit addresses. */
  multiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map((m) => m.toString())
  }

  /** A hidden node is reachable once a relay granted it a reservation. */
  private async waitForRelayAddress (timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs
    while (!this.multiaddrs().some((a) => a.includes('/p2p-circuit'))) {
      if (Date.now() > until) throw new NoRelayError('No relay granted a reservation; check the relay addresses and that they run as relays.')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  /**
   * A connection to `peer` (peer id or multiaddr). A hidden node only ever connects through one
   * of its relays; others reuse an existing connection or dial any known address.
   */
  async connect (peer: string, options: AbortOptions = {}): Promise<Connection> {
    if (peer.startsWith('/')) return await this.libp2p.dial(multiaddr(peer), options)
    const id = peerIdFromString(peer)
    const existing = this.libp2p.getConnections(id).find((c) => c.status === 'open')
    if (existing != null) return existing
    if (!this.hidden) {
      try {
        return await this.libp2p.dial(id, options)
      } catch (err) {
        if (options.signal?.aborted === true) throw err
        // libp2p says "All multiaddr dials failed": what a person needs to know is that the peer
        // did not answer, which for a holder usually means it is offline for now.
        throw new PeerUnreachableError(`peer ${shortPeer(peer)} did not answer (offline?): ${(err as Error).message}`, { cause: err })
      }
    }
    let last: Error | undefined
    for (const relay of this.relay.relays ?? []) {
      try {
        return await this.libp2p.dial(multiaddr(`${relay}/p2p-circuit/p2p/${peer}`), options)
      } catch (err) {
        last = err as Error
      }
    }
    throw new NoRelayError(`Could not reach ${peer} through any relay${last != null ? `: ${last.message}` : ''}; it must hold a reservation on one of our relays.`)
  }

  async openStream (peer: string, protocol: string, options: AbortOptions = {}): Promise<Stream> {
    const conn = await this.connect(peer, options)
    return await conn.newStream(protocol, { ...options, runOnLimitedConnection: true })
  }

  private opener (peer: string) {
    return async (protocol: string, options: AbortOptions) => await this.openStream(peer, protocol, options)
  }

  /** Sends a fragment to a supplier; resolves with its verified, signed receipt. */
  async putFragment (peer: string, meta: FragmentMeta, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: PutOptions = {}): Promise<SignedReceipt> {
    return await putFragment(this.opener(peer), peer, meta, source, { idleTimeoutMs: this.idleTimeoutMs, ...options })
  }

  /** Streams a fragment or a range of it, verified against `range.root` (see fragments/client.ts). */
  getFragment (peer: string, dealId: string, slot: number, range: GetRange, options: GetOptions = {}): AsyncGenerator<Uint8Array> {
    return getFragment(this.opener(peer), dealId, slot, range, { idleTimeoutMs: this.idleTimeoutMs, ...options })
  }

  /** What `peer` holds for `owner`, signed by it. */
  async listFragments (peer: string, owner: string, options: AbortOptions = {}): Promise<SignedListing> {
    return await listFragments(this.opener(peer), peer, owner, options)
  }

  /** Benchmark reference: a protocol that reads and discards bytes. */
  async serveRawSink (): Promise<void> {
    await this.libp2p.handle(PROTOCOL_RAW_SINK, async (stream) => {
      let n = 0
      for await (const chunk of stream) n += chunk.byteLength
      stream.send(new TextEncoder().encode(String(n)))
      await stream.close()
    }, { runOnLimitedConnection: true })
  }
}

/** Builds (does not start) a node. */
export async function createP2PNode (init: P2PNodeInit, components: P2PNodeComponents = {}): Promise<P2PNode> {
  const privateKey = init.privateKey instanceof Uint8Array ? privateKeyFromRaw(init.privateKey) : init.privateKey
  if (privateKey.type !== 'secp256k1') throw new TypeError('A BitDust node key is secp256k1')
  const libp2p = await buildLibp2p({
    privateKey,
    listen: init.listen,
    announce: init.announce,
    bootstrap: init.bootstrap,
    relay: init.relay,
    privateAddresses: init.privateAddresses,
    inboundConnectionThreshold: init.inboundConnectionThreshold
  })
  return new P2PNode(libp2p, privateKey, init, components)
}

/** A peer id short enough for an error line, still telling peers apart. */
function shortPeer (peer: string): string {
  return peer.length > 16 ? `${peer.slice(0, 8)}…${peer.slice(-6)}` : peer
}
