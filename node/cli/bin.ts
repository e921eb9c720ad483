#!/usr/bin/env -S node --single-threaded-gc
/**
 * `bitdust`: the command line. Node-local commands (init, start, devnet) run here; every other
 * command talks to a running node's HTTP API (--api URL, BITDUST_API, or <datadir>/api.json).
 */
import { enableCompileCache } from 'node:module'

// Node keeps the code it compiled for our modules and the libraries' (viem, libp2p, hardhat)
// on disk, keyed by each file's content, so later starts skip most parsing: a devnet of eight
// processes was ready ~1.5 s sooner. Before anything else is imported, or it would not apply to
// it (NODE_DISABLE_COMPILE_CACHE=1 turns it off).
enableCompileCache()

const { run } = await import('./run.ts')
const { tuneGcForStreaming } = await import('../util/gc.ts')

tuneGcForStreaming()

process.exitCode = await run(process.argv.slice(2))
