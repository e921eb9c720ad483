/**
 * Scoped loggers: `log('supplier:prover')('proved period %d', p)`. Silent unless the scope is
 * enabled with NODE_DEBUG (e.g. `NODE_DEBUG=bitdust:*` or `NODE_DEBUG=bitdust:supplier:*`),
 * so library code never writes to stdout on its own.
 */
import { debuglog } from 'node:util'

export type Logger = ((format: string, ...args: unknown[]) => void) & { enabled: boolean }

export function log (scope: string): Logger {
  const fn = debuglog(`bitdust:${scope}`)
  const out = ((format: string, ...args: unknown[]) => { fn(format, ...args) }) as Logger
  Object.defineProperty(out, 'enabled', { get: () => fn.enabled })
  return out
}
