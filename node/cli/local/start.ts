/** `bitdust start`: runs this data directory's node until Ctrl-C (or SIGTERM from the devnet). */
import { loadConfig } from '../../config/index.ts'
import type { RawConfig } from '../../config/index.ts'
import { loadKeystore } from '../../crypto/keystore.ts'
import { startNode } from '../../node.ts'
import { createServices } from '../../services.ts'
import type { CommandContext } from '../run.ts'
import { passphrase } from './passphrase.ts'
import { lowerPriority } from '../../util/priority.ts'

export function flagsToConfig (flags: CommandContext['flags']): RawConfig {
  const s = (name: string): string | undefined => typeof flags[name] === 'string' ? flags[name] : undefined
  const b = (name: string): boolean | undefined => flags[name] === true ? true : undefined
  return {
    supply: b('supply'),
    quota: s('quota'),
    price: s('price'),
    stake: s('stake'),
    relayServe: b('relay'),
    hide: b('hide'),
    relays: s('relays'),
    listen: s('listen'),
    apiPort: s('api-port'),
    network: s('network'),
    nice: s('nice'),
  }
}

export default async function start (ctx: CommandContext): Promise<number> {
  const config = loadConfig({ datadir: ctx.datadir, flags: flagsToConfig(ctx.flags) })
  if (typeof ctx.flags.bootstrap === 'string' && config.network) config.network.bootstrap = ctx.flags.bootstrap.split(',')
  // Before the database or the network start any thread: those inherit it.
  lowerPriority(config.nice)
  const identity = await loadKeystore(config.datadir, await passphrase('Keystore passphrase: '))
  const node = await startNode({ config, identity, services: createServices })
  ctx.out.result({ address: identity.address, api: node.api.url }, () => `BitDust node ${identity.address}\nAPI: ${node.api.url}\nPress Ctrl-C to stop.`)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
    // Started by a supervisor (the devnet, tests): never outlive it, even if it was killed -9.
    if (process.env.BITDUST_EXIT_WITH_PARENT === '1') {
      const parent = process.ppid
      setInterval(() => { if (process.ppid !== parent) resolve() }, 1000).unref()
    }
  })
  ctx.out.info('Stopping…')
  // A peer that does not hang up must not keep the process alive forever.
  setTimeout(() => { process.exit(0) }, 8000).unref()
  await node.stop()
  return 0
}
