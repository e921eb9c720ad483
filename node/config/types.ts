/** A network profile: which chain and contracts, and which peers to start from. */
export interface NetworkProfile {
  name: string
  rpcUrl: string
  chainId: number
  contracts: { token: `0x${string}`, staking: `0x${string}`, market: `0x${string}` }
  /** First block to scan for events (the deployment block). */
  deployBlock: number
  bootstrap: string[]
}

export interface SupplyConfig {
  enabled: boolean
  /** Bytes of disk donated to the network. */
  quota: bigint
  /** Token base units per byte per period asked by this supplier. */
  price: bigint
  /** Tokens to keep staked (base units). */
  stake: bigint
  /**
   * Leaving the network (`supply leave`, kept in config.json): no new fragments whatever the
   * quota says, no stake top-up; free stake is unbonded and withdrawn as slots are released.
   */
  leaving: boolean
  /**
   * Mark other suppliers' missed periods (a few each period, for a share of the slash). Each mark
   * is a transaction whose gas the reward may not cover on a chain with dear gas: off turns it off.
   */
  watch: boolean
}

export interface RelayConfig {
  /** Act as a circuit relay for others. */
  serve: boolean
  /** Hide this node's address: reach and be reached only through relays. */
  hide: boolean
  /** Relays to use when hiding (multiaddrs with /p2p/<id>). */
  relays: string[]
}

export interface NodeConfig {
  datadir: string
  network: NetworkProfile | undefined
  listen: string[]
  api: { host: string, port: number }
  supply: SupplyConfig
  relay: RelayConfig
  /** How often the consumer spot-checks its files and does its keeper chores (ms). */
  watchMs: number
  /** Default erasure parameters for uploads. */
  k: number
  m: number
  /** Default term of an upload's deal, in the market's periods. */
  periods: number
  /** Renew the user's files as their deals near their end, so that they stay until removed. */
  autoRenew: boolean
  /** CPU niceness the node runs at, 0 (normal) to 19 (only when nothing else wants the CPU). */
  nice: number
}
