import { expect } from 'chai'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { NodeStartError, Supervisor, nodeArgv } from '../../../node/devnet/processes.ts'
import { NODE_FLAGS } from '../../../node/util/gc.ts'
import type { RunningNode } from '../../../node/devnet/processes.ts'

describe('devnet/processes', function () {
  this.timeout(60_000)

  it('a node that dies while starting is a NodeStartError that carries its last words', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bitdust-sup-'))
    const sup = new Supervisor()
    try {
      // No keystore in the data directory: `bitdust start` explains and exits.
      const err = await sup.start({ name: 'lonely', role: 'user', datadir: join(dir, 'node'), args: [], env: { BITDUST_PASSPHRASE: 'x' } })
        .then(() => undefined, (e: unknown) => e as Error)
      expect(err).to.be.instanceOf(NodeStartError)
      expect(err?.message).to.match(/^lonely exited with 1 before its API came up/)
      // The reason is in the error itself, not only in a log that may be gone with its directory.
      expect(err?.message).to.include('No keystore at')
    } finally {
      await sup.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('kill resolves once the process is gone (a restart on its directory must not meet its lock)', async () => {
    const sup = new Supervisor()
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    const node = { spec: { name: 'sleeper', role: 'user', datadir: '/nonexistent', args: [] }, child } as unknown as RunningNode
    await sup.kill(node)
    expect(child.signalCode).to.equal('SIGKILL')
    // Killing what is already gone returns at once.
    await sup.kill(node)
  })

  it('a node process starts with node\'s flags for nodes, before the bin', () => {
    const argv = nodeArgv({ datadir: '/d', args: ['--role', 'supplier'] })
    expect(argv.slice(0, NODE_FLAGS.length)).to.deep.equal(NODE_FLAGS)
    expect(argv[NODE_FLAGS.length]).to.match(/node\/cli\/bin\.ts$/)
    expect(argv.slice(NODE_FLAGS.length + 1)).to.deep.equal(['start', '--datadir', '/d', '--role', 'supplier'])
  })
})
