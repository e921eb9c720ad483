/**
 * `npm run deploy -- --rpc URL --key HEX [--params devnet|default] [--out FILE] [--chain-id N]`
 * Deploys the BitDust contracts to any JSON-RPC endpoint and prints the network-profile fragment
 * (rpcUrl, chainId, contracts, deployBlock) as JSON; --out also writes it to FILE.
 * BITDUST_RPC_URL and BITDUST_DEPLOYER_KEY stand in for --rpc and --key.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ensureCompiled } from '../node/chain/artifacts.ts'
import { connect } from '../node/chain/connect.ts'
import { deployBitDust } from '../node/chain/deploy.ts'
import { PARAM_PRESETS } from '../node/chain/deploy-params.ts'
import { TxSender } from '../node/chain/tx.ts'

const usage = 'usage: npm run deploy -- --rpc URL --key 0xPRIVATEKEY [--params devnet|default] [--out FILE] [--confirmations N]'

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: {
      rpc: { type: 'string' },
      key: { type: 'string' },
      params: { type: 'string', default: 'default' },
      out: { type: 'string' },
      confirmations: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) { process.stdout.write(`${usage}\n`); return 0 }
  const rpcUrl = values.rpc ?? (process.env.BITDUST_RPC_URL || undefined)
  const key = values.key ?? (process.env.BITDUST_DEPLOYER_KEY || undefined)
  const params = PARAM_PRESETS[values.params ?? 'default']
  if (rpcUrl === undefined || key === undefined) {
    process.stderr.write(`The RPC URL and the deployer's key are needed (--rpc/--key or BITDUST_RPC_URL/BITDUST_DEPLOYER_KEY).\n${usage}\n`)
    return 2
  }
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) { process.stderr.write('--key must be a 0x-prefixed 32-byte hex private key\n'); return 2 }
  if (params === undefined) { process.stderr.write(`--params must be one of: ${Object.keys(PARAM_PRESETS).join(', ')}\n`); return 2 }

  await ensureCompiled()
  // The chain id comes from the endpoint itself: nothing is hard-wired to the devnet.
  const probe = connect({ rpcUrl, chainId: 1 })
  const chainId = await new TxSender(probe, { attempts: 3 }).retry('eth_chainId', async () => await probe.publicClient.getChainId())
  const { publicClient, walletClient } = connect({ rpcUrl, chainId, privateKey: key as `0x${string}` })
  const deployment = await deployBitDust(
    { publicClient, walletClient: walletClient!, params },
    {
      confirmations: Number(values.confirmations),
      onProgress: (e) => process.stderr.write(e.type === 'deploy:contract' ? `deployed ${e.name} at ${e.address}\n` : `wired ${e.what}\n`),
    },
  )
  const profile = { rpcUrl, chainId: deployment.chainId, contracts: deployment.contracts, deployBlock: deployment.deployBlock }
  const json = JSON.stringify(profile, null, 2)
  process.stdout.write(`${json}\n`)
  if (values.out !== undefined) writeFileSync(values.out, `${json}\n`)
  return 0
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`deploy failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
