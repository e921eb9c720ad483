/** `bitdust devnet` (= `npm start`): a whole BitDust network on this machine until Ctrl-C. */
import { startDevnet } from '../../devnet/index.ts'
import type { CommandContext } from '../run.ts'

export default async function devnet (ctx: CommandContext): Promise<number> {
  const started = Date.now()
  const controller = new AbortController()
  const abort = (): void => { controller.abort(new Error('interrupted')) }
  process.once('SIGINT', abort)
  const suppliers = typeof ctx.flags.suppliers === 'string' ? Number(ctx.flags.suppliers) : 6
  ctx.out.info(`Starting a local BitDust network in ${ctx.datadir} …`)
  const net = await startDevnet({
    datadir: ctx.datadir,
    suppliers,
    ...(typeof ctx.flags['block-ms'] === 'string' ? { blockTimeMs: Number(ctx.flags['block-ms']) } : {}),
    onProgress: (m) => { ctx.out.info(`  … ${m}`) },
    signal: controller.signal,
  })
  process.off('SIGINT', abort)
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  const user = net.user
  const dd = ctx.flags.datadir === undefined ? '' : ` --datadir ${ctx.datadir}`
  ctx.out.result({
    api: user?.endpoint.url, rpcUrl: net.chain.rpcUrl, contracts: net.deployment.contracts, suppliers: net.suppliers.length, readySeconds: Number(seconds),
  }, () => [
    '',
    `BitDust devnet ready in ${seconds} s`,
    `  your node's API   ${user?.endpoint.url ?? '-'}  (token in ${ctx.datadir}/api.json)`,
    `  chain (JSON-RPC)  ${net.chain.rpcUrl}  chain id ${net.chain.chainId}`,
    `  contracts         token ${net.deployment.contracts.token}`,
    `                    staking ${net.deployment.contracts.staking}`,
    `                    market ${net.deployment.contracts.market}`,
    `  processes         1 relay, ${net.suppliers.length} suppliers, your node  (details: ${ctx.datadir}/devnet.json)`,
    '',
    'Try, in another terminal (from this directory):',
    `  ./bitdust${dd} status`,
    `  ./bitdust${dd} upload ./some-file`,
    `  ./bitdust${dd} ls`,
    `  ./bitdust${dd} download <ID> -o ./copy`,
    `  ./bitdust${dd} ledger && ./bitdust${dd} audit`,
    '',
    'Ctrl-C stops everything.',
  ].join('\n'))
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  ctx.out.info('Stopping the devnet …')
  await net.stop()
  return 0
}
