/**
 * Defaults of the peer network, resolved once by each service (`init.x ?? DEFAULT`).
 * Protocol ids follow `/bitdust/<name>/<major>.<minor>.<patch>`, topics `bitdust/<name>/1`.
 */
export const WIRE_VERSION = 1

export const PROTOCOL_FRAGMENT_PUT = '/bitdust/fragment-put/1.0.0'
export const PROTOCOL_FRAGMENT_GET = '/bitdust/fragment-get/1.0.0'
export const PROTOCOL_FRAGMENT_LIST = '/bitdust/fragment-list/1.0.0'
export const PROTOCOL_OFFER = '/bitdust/offer/1.0.0'
export const PROTOCOL_MESSAGE = '/bitdust/message/1.0.0'
export const PROTOCOL_GROUP_HISTORY = '/bitdust/group-history/1.0.0'
/** Raw byte sink used only by the benchmark as the "bare libp2p stream" reference. */
export const PROTOCOL_RAW_SINK = '/bitdust/raw-sink/1.0.0'
/** Prefix of our own Kademlia DHT, so we never mix with the public IPFS DHT. */
export const DHT_PROTOCOL = '/bitdust/kad/1.0.0'

/** Gossip topics are versioned with their wire format: /2 carries unsigned gossipsub messages (the payloads sign themselves). */
export const TOPIC_OFFERS = 'bitdust/offers/2'
export const groupTopic = (groupId: string): string => `bitdust/group-${groupId}/2`

/** The DHT key suppliers provide under; its CID is derived once (see discovery/offer-key.ts). */
export const SUPPLIERS_DHT_KEY = 'bitdust:suppliers:v1'

/** Largest control message (headers, offers, receipts, lists, chat messages) on the wire. */
export const MAX_MESSAGE_SIZE = 256 * 1024
/** Largest single fragment accepted by the put protocol: 1 GiB. */
export const MAX_FRAGMENT_SIZE = 2 ** 30
/** Entries in one signed fragment list. */
export const MAX_LIST_ENTRIES = 1024
/** Segments whose proofs can be requested in one ranged get. */
export const MAX_PROVEN_SEGMENTS = 256
/** Multiaddrs in an offer. */
export const MAX_OFFER_ADDRS = 8
/** Offers older than this are not accepted even if their own expiry says otherwise. */
export const MAX_OFFER_TTL_MS = 60 * 60 * 1000
export const DEFAULT_OFFER_TTL_MS = 10 * 60 * 1000
export const DEFAULT_OFFER_INTERVAL_MS = 60 * 1000
/**
 * A supplier's DHT provider record is sent again after this long even if nothing changed. The
 * record lives 48 h on the peers that hold it and kad-dht renews its own records hourly; each
 * provide is a lookup that decodes (and decompresses the key of) every peer it hears of, which on
 * a devnet of 16 processes cost a burst of ~6 CPU-s whenever the offers were refreshed.
 */
export const PROVIDE_REFRESH_MS = 30 * 60 * 1000
/** First retry of a provide that reached no peer (doubling up to the offer interval). */
export const PROVIDE_RETRY_MS = 1000
export const MAX_OFFER_CACHE = 10_000
/**
 * A supplier's stake, once the chain confirmed it, backs its later offers for this long without
 * another read. A supplier announces new terms whenever its free space changes (every fragment
 * it takes), and every node that hears the offer read the stake again: on a devnet of 6
 * suppliers, 48 contract reads per upload; in a network, readers x offers. The contract checks
 * the stake itself when a slot is filled, so a stake slashed within this time costs a consumer
 * one refused fill, not a lost fragment.
 */
export const STAKE_CONFIRMED_MS = 5 * 60 * 1000
/**
 * A consumer whose cache holds the offers it needs looks suppliers up again only after this long:
 * gossip keeps the cache current in between, and a lookup walks the DHT.
 */
export const LOOKUP_FRESH_MS = 60 * 1000
/** While the cache holds fewer offers than a caller needs, lookups are at least this far apart. */
export const LOOKUP_GAP_MS = 2 * 1000
/** How long one lookup (a DHT walk and the offers it asks for) may take. */
export const LOOKUP_TIMEOUT_MS = 30 * 1000

/** Bytes buffered from a stream before it is paused (backpressure to the sender). */
export const READ_HIGH_WATER = 4 * 1024 * 1024
/** Largest yamux receive window per stream (bytes in flight to one stream). */
export const STREAM_WINDOW = 8 * 1024 * 1024
/** What a paused stream may hold before libp2p resets it. */
export const MAX_PAUSED_BUFFER = 34 * 1024 * 1024
/** A supplier reports progress every this many bytes received. */
export const PUT_PROGRESS_EVERY = 4 * 1024 * 1024
/** Size of the chunks we write fragments in. */
export const WRITE_CHUNK = 256 * 1024
/**
 * Bytes of a fragment gathered before they are sent to the supplier: one burst per MiB, which
 * it takes in one wake-up, instead of one per shard as the encoder makes them (the 4+2 devnet's
 * suppliers spent ~15 % less CPU receiving an upload).
 */
export const WRITE_BATCH = 1024 * 1024

/** How long a supplier keeps a fragment that arrived before its deal, waiting for the commit. */
export const COMMIT_WAIT_MS = 180_000

/** A peer that sends nothing for this long during a transfer is dropped. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000
/** Time allowed for a request/response exchange (headers, lists, messages). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0']
/** Inbound connections per second per host a relay accepts (many clients may share a NAT). */
export const RELAY_INBOUND_THRESHOLD = 100

export const MAX_MESSAGE_TEXT = 64 * 1024
/** Direct messages accepted from one peer per minute (bounds what a spammer can make us store). */
export const DEFAULT_MESSAGES_PER_MINUTE = 120
export const DEFAULT_RETRY_MIN_MS = 1_000
export const DEFAULT_RETRY_MAX_MS = 60_000
