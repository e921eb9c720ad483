#!/usr/bin/env node
/**
 * `bitdust`: the command line. Node-local commands (init, start, devnet) run here; every other
 * command talks to a running node's HTTP API (--api URL, BITDUST_API, or <datadir>/api.json).
 */
import { run } from './run.ts'
import { tuneGcForStreaming } from '../util/gc.ts'

tuneGcForStreaming()

process.exitCode = await run(process.argv.slice(2))
