import { homedir } from 'node:os'
import { join } from 'node:path'

/** Where a node keeps its keystore, database, fragments and runtime files unless told otherwise. */
export const DEFAULT_DATADIR = join(homedir(), '.bitdust')
export const CONFIG_FILE = 'config.json'
export const KEYSTORE_FILE = 'keystore.json'
export const API_FILE = 'api.json'
export const DEVNET_FILE = 'devnet.json'
export const NETWORK_FILE = 'network.json'
export const DB_DIR = 'db'
export const FRAGMENTS_DIR = 'fragments'

export const DEFAULT_API_HOST = '127.0.0.1'
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0']
/** Donated space of a supplier when none is configured: 10 GiB. */
export const DEFAULT_QUOTA = 10n * 2n ** 30n
export const DEFAULT_K = 4
export const DEFAULT_M = 2
/** Periods an upload pays for when none is asked: 100 days on a network of daily periods. */
export const DEFAULT_PERIODS = 100
/** Spot checks and keeper chores of the consumer: every 30 s. */
export const DEFAULT_WATCH_MS = 30_000
