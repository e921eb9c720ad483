/**
 * End-to-end helpers: the CLI run as a separate process (as a person would run it), polling, and
 * small files on disk. Everything here talks to real processes on 127.0.0.1.
 */
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes, createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'

const BIN = join(import.meta.dirname, '..', '..', '..', 'node', 'cli', 'bin.ts')

export interface CliResult { code: number, json: unknown, stdout: string, stderr: string }

/** `bitdust --json ...` in its own process. */
export async function cli (datadir: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [BIN, '--datadir', datadir, '--json', ...args], { env: { ...process.env, ...env }, maxBuffer: 16 << 20, timeout: 600_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
      let json: unknown
      try { json = JSON.parse(stdout.trim().split('\n').at(-1) ?? 'null') } catch { json = undefined }
      resolve({ code, json, stdout, stderr })
    })
  })
}

/** `bitdust ...` (human output) as a child to signal, as a terminal would on Ctrl-C. */
export function cliChild (datadir: string, args: string[]): { child: ChildProcess, done: Promise<{ code: number | null, stderr: string }> } {
  const child = spawn(process.execPath, [BIN, '--datadir', datadir, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  const done = once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr }))
  return { child, done }
}

/** Like cli(), but fails the test with the CLI's own words when the command fails. */
export async function ok<T = Record<string, unknown>> (datadir: string, args: string[], env: Record<string, string> = {}): Promise<T> {
  const r = await cli(datadir, args, env)
  if (r.code !== 0) throw new Error(`bitdust ${args.join(' ')} exited ${r.code}: ${r.stdout} ${r.stderr}`)
  return r.json as T
}

export async function until<T> (what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`)
    await sleep(everyMs)
  }
}

/** A file of random bytes written in 1 MiB pieces (no giant buffer for 64 MiB). */
export async function randomFile (path: string, size: number): Promise<string> {
  const out = createWriteStream(path)
  for (let left = size; left > 0; left -= 1 << 20) {
    if (!out.write(randomBytes(Math.min(left, 1 << 20)))) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  return path
}

export async function sha256File (path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}
