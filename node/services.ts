/**
 * The composition root: which services a node runs, built from its configuration. This is the
 * one place that knows every module; the modules themselves only know narrow interfaces.
 */
import type { NodeService, NodeServices } from './node.ts'
import { connect } from './chain/connect.ts'
import { NoNetworkError } from './config/errors.ts'

export async function createServices (shared: NodeServices): Promise<NodeService[]> {
  const { config, identity } = shared
  const network = config.network
  if (network === undefined) throw new NoNetworkError(config.datadir)
  const clients = connect({ rpcUrl: network.rpcUrl, chainId: network.chainId, privateKey: identity.privateKeyHex })
  const chainService: NodeService = {
    name: 'chain',
    status: async () => ({
      chainId: network.chainId,
      rpcUrl: network.rpcUrl,
      block: Number(await clients.publicClient.getBlockNumber()),
    }),
  }
  return [chainService]
}
