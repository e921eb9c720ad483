/**
 * Defaults of the chain layer, resolved once by whoever takes an Init.
 */

/** Hardhat's well-known development mnemonic: its accounts are funded on every local chain. */
export const DEV_MNEMONIC = 'test test test test test test test test test test test junk'
/** Number of mnemonic accounts prefunded on a local chain. */
export const DEV_ACCOUNT_COUNT = 20
/** Ether (in wei) given to each prefunded account of a local chain: 10,000 ETH. */
export const DEV_ACCOUNT_BALANCE = 10_000n * 10n ** 18n
export const LOCAL_CHAIN_ID = 31337
export const LOCAL_HOST = '127.0.0.1'
/**
 * Contracts count periods in blocks, so the devnet must produce blocks while idle as well as on
 * every transaction (automine): one block per second.
 */
export const LOCAL_BLOCK_TIME_MS = 1000

/** Confirmations a sent transaction waits for before it counts as done. */
export const CONFIRMATIONS = 1
/** Attempts of a send or read when the endpoint is unreachable or drops the request. */
export const RETRY_ATTEMPTS = 6
/** First back-off between attempts; doubles each time up to RETRY_MAX_DELAY_MS. */
export const RETRY_BASE_DELAY_MS = 250
export const RETRY_MAX_DELAY_MS = 4000
/** How often receipts and new logs are polled. */
export const POLL_INTERVAL_MS = 500
/** Longest a single transaction may wait for its receipt before the send fails. */
export const RECEIPT_TIMEOUT_MS = 120_000
/** Most blocks asked for in one eth_getLogs call (public endpoints cap the range). */
export const LOG_BLOCK_RANGE = 5000n
/** Headroom added to a fresh gas estimate, in percent. */
export const GAS_HEADROOM_PERCENT = 20n
