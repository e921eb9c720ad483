/**
 * Reading the contracts' events: in block ranges the endpoints accept, decoded and ordered as they
 * happened, and a poller that resumes from a stored block number after a restart.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { decodeEventLog, encodeAbiParameters, numberToHex, toEventSelector } from 'viem'
import type { Abi, AbiEvent, Address, Hex } from 'viem'
import { log } from '../log.ts'
import { LOG_BLOCK_RANGE, POLL_INTERVAL_MS } from './constants.ts'
import type { BitDustAddresses } from './deploy.ts'
import type { AbortOptions, TxSender } from './tx.ts'
import { RpcUnavailableError } from './errors.ts'
import { isNetworkError } from './revert.ts'
import { cached } from '../util/memo.ts'

const debug = log('chain:events')

export type ContractKey = keyof BitDustAddresses

export interface ChainEvent {
  contract: ContractKey
  eventName: string
  /** Decoded arguments by name (amounts are bigint). */
  args: Record<string, unknown>
  blockNumber: bigint
  logIndex: number
  transactionHash: Hex
}

export interface EventSource {
  tx: TxSender
  contracts: BitDustAddresses
  abis: Record<ContractKey, Abi>
}

export interface GetEventsOptions extends AbortOptions {
  fromBlock: bigint
  /** Inclusive; default: the latest block. */
  toBlock?: bigint
  /** Only these contracts. */
  contracts?: ContractKey[]
  /** Only these event names (filtered by the endpoint: topic 0). */
  eventNames?: string[]
  /**
   * Only events whose indexed arguments have these values (filtered by the endpoint), e.g.
   * `{ supplier: address }`. Every event named in `eventNames` must index each of these
   * arguments at the same position.
   */
  where?: Record<string, unknown>
}

/** Event selectors by ABI item: a supplier builds its challenge filter every block, and each selector is a keccak in JS. */
const selectors = new WeakMap<AbiEvent, Hex>()
function selectorOf (item: AbiEvent): Hex {
  return cached(selectors, item, () => toEventSelector(item))
}

/**
 * The topics of eth_getLogs for the named events and indexed values: the endpoint then sends only
 * what was asked for, instead of every event of the contracts (a supplier polling its challenges
 * every block had been downloading and decoding every market event of the last 16 blocks).
 */
export function eventTopics (abis: Abi[], eventNames: string[], where: Record<string, unknown> = {}): Array<Hex | Hex[] | null> {
  const items: AbiEvent[] = []
  for (const name of eventNames) {
    const found = new Map<Hex, AbiEvent>()
    for (const abi of abis) for (const i of abi) if (i.type === 'event' && i.name === name) found.set(selectorOf(i), i)
    if (found.size === 0) throw new Error(`no event ${name} in the contracts' interfaces`)
    items.push(...found.values())
  }
  const topics: Array<Hex | Hex[] | null> = [[...new Set(items.map(selectorOf))]]
  for (const [arg, value] of Object.entries(where)) {
    let position: number | undefined
    let type: string | undefined
    for (const i of items) {
      const indexed = i.inputs.filter((x) => x.indexed === true)
      const at = indexed.findIndex((x) => x.name === arg)
      if (at < 0 || (position !== undefined && position !== at + 1)) throw new Error(`event ${i.name} does not index ${arg} where the others do`)
      position = at + 1
      type = indexed[at]?.type
    }
    if (position === undefined || type === undefined) continue
    while (topics.length <= position) topics.push(null)
    topics[position] = encodeAbiParameters([{ type }], [value])
  }
  return topics
}

function decode (source: EventSource, byAddress: Map<string, ContractKey>, entry: LogEntry): ChainEvent | undefined {
  const contract = byAddress.get(entry.address.toLowerCase())
  if (contract === undefined) return undefined
  try {
    const decoded = decodeEventLog({ abi: source.abis[contract], data: entry.data, topics: entry.topics as [Hex, ...Hex[]] })
    return {
      contract,
      eventName: decoded.eventName ?? 'unknown',
      args: (decoded.args ?? {}) as Record<string, unknown>,
      blockNumber: entry.blockNumber ?? 0n,
      logIndex: entry.logIndex ?? 0,
      transactionHash: entry.transactionHash ?? '0x',
    }
  } catch {
    // An event the interface does not declare (e.g. OpenZeppelin's OwnershipTransferred): not ours to account.
    return undefined
  }
}

/** What decoding reads of a log. */
interface LogEntry { address: Address, topics: Hex[], data: Hex, blockNumber: bigint | null, logIndex: number | null, transactionHash: Hex | null }

/** eth_getLogs with topics (viem's getLogs builds topics only from one event or decodes itself). */
async function rawLogs (pc: TxSender['publicClient'], filter: { address: Address[], topics: Array<Hex | Hex[] | null> | undefined, fromBlock: bigint, toBlock: bigint }): Promise<LogEntry[]> {
  const logs = await pc.request({
    method: 'eth_getLogs',
    params: [{ address: filter.address, fromBlock: numberToHex(filter.fromBlock), toBlock: numberToHex(filter.toBlock), ...(filter.topics !== undefined ? { topics: filter.topics } : {}) }],
  })
  return logs.map((l) => ({
    address: l.address,
    topics: l.topics,
    data: l.data,
    blockNumber: l.blockNumber === null ? null : BigInt(l.blockNumber),
    logIndex: l.logIndex === null ? null : Number(l.logIndex),
    transactionHash: l.transactionHash,
  }))
}

/** All decoded events of the BitDust contracts in [fromBlock, toBlock], in chain order. */
export async function getEvents (source: EventSource, options: GetEventsOptions): Promise<ChainEvent[]> {
  const pc = source.tx.publicClient
  const keys = options.contracts ?? (Object.keys(source.contracts) as ContractKey[])
  const byAddress = new Map<string, ContractKey>(keys.map((k) => [source.contracts[k].toLowerCase(), k]))
  const address = keys.map((k) => source.contracts[k]) as Address[]
  const toBlock = options.toBlock ?? await source.tx.retry('eth_blockNumber', async () => await pc.getBlockNumber({ cacheTime: 0 }), options)
  const topics = options.eventNames !== undefined || options.where !== undefined
    ? eventTopics(keys.map((k) => source.abis[k]), options.eventNames ?? [], options.where)
    : undefined
  const out: ChainEvent[] = []
  for (let from = options.fromBlock; from <= toBlock; from += LOG_BLOCK_RANGE) {
    const to = from + LOG_BLOCK_RANGE - 1n < toBlock ? from + LOG_BLOCK_RANGE - 1n : toBlock
    const logs = await source.tx.retry('eth_getLogs', async () => await rawLogs(pc, { address, topics, fromBlock: from, toBlock: to }), options)
    for (const entry of logs) {
      const e = decode(source, byAddress, entry)
      if (e === undefined) continue
      if (options.eventNames !== undefined && !options.eventNames.includes(e.eventName)) continue
      out.push(e)
    }
  }
  out.sort((a, b) => a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1)
  return out
}

export interface WatchInit {
  /** First block to read; store `nextBlock` after each batch to resume there. */
  fromBlock: bigint
  contracts?: ContractKey[]
  eventNames?: string[]
  pollIntervalMs?: number
  /** Blocks to stay behind the head (1 = the latest block counts). */
  confirmations?: number
  /** Called with each batch in chain order; the next batch waits for it. `nextBlock` is where to resume. */
  onEvents: (events: ChainEvent[], nextBlock: bigint) => Promise<void> | void
  /** Failures of a poll (the watcher keeps going). */
  onError?: (err: unknown) => void
}

export interface EventWatcher {
  /** The next block the watcher will read. */
  readonly nextBlock: bigint
  stop: () => Promise<void>
}

/** Polls for new events until stopped. A failing endpoint or handler delays, never ends, the watch. */
export function watchEvents (source: EventSource, init: WatchInit): EventWatcher {
  const interval = init.pollIntervalMs ?? POLL_INTERVAL_MS
  const lag = BigInt(Math.max(1, init.confirmations ?? 1) - 1)
  const controller = new AbortController()
  let next = init.fromBlock
  const loop = (async () => {
    while (!controller.signal.aborted) {
      try {
        const head = await source.tx.publicClient.getBlockNumber({ cacheTime: 0 }) - lag
        if (head >= next) {
          const events = await getEvents(source, { fromBlock: next, toBlock: head, contracts: init.contracts, eventNames: init.eventNames, signal: controller.signal })
          await init.onEvents(events, head + 1n)
          next = head + 1n
        }
      } catch (err) {
        if (controller.signal.aborted) break
        debug('poll failed: %s', (err as Error).message)
        // The loop is the retry: report an unreachable endpoint at once, in the chain layer's terms.
        init.onError?.(isNetworkError(err) ? new RpcUnavailableError(source.tx.rpcUrl, err) : err)
      }
      await sleep(interval, undefined, { signal: controller.signal }).catch(() => {})
    }
  })()
  return {
    get nextBlock () { return next },
    async stop () {
      controller.abort()
      await loop
    },
  }
}
