/**
 * The libp2p stack of a BitDust node: TCP + noise + yamux, identify, ping, our own Kademlia DHT
 * (`/bitdust/kad`), gossipsub, circuit relay v2 (transport always, server when serving), bootstrap.
 *
 * Hiding: a hidden node has no TCP listener, reserves slots on its relays and listens only on
 * `<relay>/p2p-circuit`; its connection gater refuses every dial that is not to a relay or through
 * one, and every inbound connection that is not relayed. Its DHT runs in client mode, so it never
 * asks peers to connect back to it.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { noiseCrypto, withNoiseFastPaths } from './noise-crypto.ts'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { gossipsub, StrictNoSign } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { halfWindowUpdates } from './yamux-window.ts'
import { fixDrainWaits } from './drain-waits.ts'
import { nativeSecp256k1Keys } from './native-keys.ts'
import { quietClosestPeerTags } from './closest-peer-tags.ts'
import { gossipFastMsgId } from './gossip-ids.ts'
import { DEFAULT_LISTEN, DHT_PROTOCOL, MAX_PAUSED_BUFFER, RELAY_INBOUND_THRESHOLD, STREAM_WINDOW } from './constants.ts'
import { FaultTolerance } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import type { ConnectionGater, Libp2p, PrivateKey } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface RelayInit {
  /** Run a circuit relay v2 server for others, without the 128 KiB / 2 min default limits. */
  serve?: boolean
  /** Reach and be reached only through `relays`; no direct connections in or out. */
  hide?: boolean
  /** Relay multiaddrs (with /p2p/<id>) to reserve a slot on; required when hiding. */
  relays?: string[]
  /** Most reservations a relay server grants at once. */
  maxReservations?: number
}

export interface Libp2pInit {
  privateKey: PrivateKey
  listen?: string[]
  announce?: string[]
  bootstrap?: string[]
  relay?: RelayInit
  /** Keep loopback/private addresses in the DHT (tests, LANs). Default true. */
  privateAddresses?: boolean
  /** Inbound connections accepted per second from one host (libp2p's default is 5; relays get more). */
  inboundConnectionThreshold?: number
}

export type BitDustServices = {
  identify: unknown
  ping: unknown
  dht: KadDHT
  pubsub: GossipSub
  relay?: unknown
}

export type BitDustLibp2p = Libp2p<BitDustServices>

const isCircuit = (ma: Multiaddr): boolean => ma.toString().includes('/p2p-circuit')

/** The peer ids of the relays a hidden node may connect to directly. */
function relayPeers (relays: string[]): Set<string> {
  const out = new Set<string>()
  for (const r of relays) {
    const id = multiaddr(r).getComponents().find((c) => c.name === 'p2p')?.value
    if (id != null) out.add(id)
  }
  return out
}

/** Refuses any direct (non-relayed) connection except to the configured relays. */
export function hiddenGater (relays: string[]): ConnectionGater {
  const allowed = relayPeers(relays)
  const peerOf = (ma: Multiaddr): string | undefined => ma.getComponents().findLast((c) => c.name === 'p2p')?.value
  return {
    denyDialMultiaddr: (ma) => !isCircuit(ma) && !allowed.has(peerOf(ma) ?? ''),
    denyDialPeer: () => false,
    denyInboundConnection: (maConn) => !isCircuit(maConn.remoteAddr),
    denyInboundEncryptedConnection: (peerId, maConn) => !isCircuit(maConn.remoteAddr) && !allowed.has(peerId.toString()),
    denyOutboundEncryptedConnection: (peerId, maConn) => !isCircuit(maConn.remoteAddr) && !allowed.has(peerId.toString())
  }
}

export async function buildLibp2p (init: Libp2pInit): Promise<BitDustLibp2p> {
  const relay = init.relay ?? {}
  const relays = relay.relays ?? []
  const hide = relay.hide === true
  const circuitListen = relays.map((r) => `${r}/p2p-circuit`)
  const listen = hide ? circuitListen : [...(init.listen ?? DEFAULT_LISTEN), ...circuitListen]
  const services: Record<string, unknown> = {
    identify: identify(),
    ping: ping(),
    dht: kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: hide,
      peerInfoMapper: init.privateAddresses === false ? removePrivateAddressesMapper : passthroughMapper,
      allowQueryWithZeroPeers: true
    }),
    pubsub: gossipsub({
      allowPublishToZeroTopicPeers: true,
      runOnLimitedConnection: true,
      emitSelf: false,
      // Every message we gossip signs itself (an offer with its supplier's key, a group message
      // with its member's, both checked by the topic's validator), so gossipsub's own signature
      // was a second secp256k1 signature per message and a second verification (pure JS, ~2 ms)
      // at every node it reached. Unsigned messages carry no sender id or sequence number either.
      globalSignaturePolicy: StrictNoSign,
      // Copies of a message already accepted are dropped before they are validated again.
      fastMsgIdFn: gossipFastMsgId
    })
  }
  if (relay.serve === true) {
    services.relay = circuitRelayServer({
      reservations: { applyDefaultLimit: false, maxReservations: relay.maxReservations ?? 128 }
    })
  }
  const peerDiscovery = (init.bootstrap ?? []).length > 0 ? [bootstrap({ list: init.bootstrap ?? [] })] : []
  halfWindowUpdates()
  fixDrainWaits()
  nativeSecp256k1Keys()
  const node = await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen, announce: init.announce ?? [] },
    transports: [tcp(), circuitRelayTransport({ reservationConcurrency: 1 })],
    connectionEncrypters: [withNoiseFastPaths(noise({ crypto: noiseCrypto }))],
    // A paused stream keeps receiving what the sender may still send; the read buffer must hold
    // it or libp2p resets the stream (its defaults: 16 MiB window, 4 MiB buffer). Under load we
    // saw a single 16 MiB frame arrive on a paused stream, hence the margin.
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: STREAM_WINDOW, maxReadBufferLength: MAX_PAUSED_BUFFER } })],
    connectionGater: hide ? hiddenGater(relays) : { denyDialMultiaddr: () => false },
    connectionManager: {
      inboundConnectionThreshold: init.inboundConnectionThreshold ?? (relay.serve === true ? RELAY_INBOUND_THRESHOLD : undefined),
      maxIncomingPendingConnections: relay.serve === true ? RELAY_INBOUND_THRESHOLD : undefined
    },
    // A relay that is down must not stop a public node from starting; a hidden node checks
    // for its reservation itself (NoRelayError).
    transportManager: { faultTolerance: FaultTolerance.NO_FATAL },
    // No connection monitor: it opens a stream to every peer every 10 s to ping it, and its
    // verdict cannot be used (pings share the TCP connection with bulk fragment data, so they
    // queue behind megabytes and a busy but healthy peer looks dead). Stalled peers are caught
    // by our stream idle timeouts, and yamux keeps connections alive with its own frame pings.
    // In a 16-process devnet those ping streams were most of every node's idle CPU.
    connectionMonitor: { enabled: false },
    peerDiscovery,
    services: services as any,
    start: false
  })
  quietClosestPeerTags((node.services as Record<string, unknown>).dht)
  return node as unknown as BitDustLibp2p
}
