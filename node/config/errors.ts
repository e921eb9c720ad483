export class ConfigError extends Error {
  override name = 'ConfigError'
}

export class NoNetworkError extends Error {
  override name = 'NoNetworkError'
  constructor (datadir: string) {
    super(`No network is configured in ${datadir}. Run \`bitdust devnet\` for a local network, or put a network profile (rpcUrl, chainId, contracts, bootstrap) in ${datadir}/network.json or set BITDUST_NETWORK to its path.`)
  }
}
