/**
 * The keystore passphrase: BITDUST_PASSPHRASE (scripts, the devnet), else asked on the terminal
 * without echo. With neither, a clear error instead of hanging on a closed stdin.
 */
import { createInterface } from 'node:readline'
import type { Writable } from 'node:stream'

export class PassphraseRequiredError extends Error {
  override name = 'PassphraseRequiredError'
  constructor () {
    super('The keystore passphrase is needed: set BITDUST_PASSPHRASE or run this command in a terminal.')
  }
}

export async function passphrase (prompt: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.BITDUST_PASSPHRASE !== undefined) return env.BITDUST_PASSPHRASE
  if (process.stdin.isTTY !== true) throw new PassphraseRequiredError()
  const muted = { muted: false }
  const output = new (class extends (await import('node:stream')).Writable {
    override _write (chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
      if (!muted.muted) process.stderr.write(chunk)
      cb()
    }
  })() as Writable
  const rl = createInterface({ input: process.stdin, output, terminal: true })
  try {
    process.stderr.write(prompt)
    muted.muted = true
    const answer = await new Promise<string>((resolve) => rl.question('', resolve))
    return answer
  } finally {
    muted.muted = false
    process.stderr.write('\n')
    rl.close()
  }
}
