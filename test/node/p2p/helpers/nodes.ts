/** Test helpers: real libp2p nodes on 127.0.0.1 with fresh keys, and fragments with their roots. */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateIdentity } from '../../../../node/crypto/identity.ts'
import { toHex } from '../../../../node/p2p/wire/hex.ts'
import { createP2PNode } from '../../../../node/p2p/node.ts'
import { merkleRoot } from '../../../../node/proofs/merkle.ts'
import type { FragmentMeta } from '../../../../node/p2p/fragments/backend.ts'
import type { P2PNode, P2PNodeComponents, P2PNodeInit } from '../../../../node/p2p/node.ts'

export class Cleanup {
  private readonly fns: Array<() => Promise<unknown>> = []
  add (fn: () => Promise<unknown>): void { this.fns.push(fn) }
  async run (): Promise<void> {
    for (const fn of this.fns.splice(0).reverse()) await fn().catch(() => {})
  }
}

export async function tempDir (cleanup: Cleanup, prefix = 'bitdust-p2p-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  cleanup.add(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

export async function startNode (cleanup: Cleanup, init: Partial<P2PNodeInit> = {}, components: P2PNodeComponents = {}): Promise<P2PNode> {
  const node = await createP2PNode({ privateKey: generateIdentity().privateKey, ...init }, components)
  await node.start()
  cleanup.add(async () => { await node.stop() })
  return node
}

export function fragment (segments: number, owner = '0x' + '11'.repeat(20), slot = 0): { bytes: Uint8Array, meta: FragmentMeta } {
  const bytes = new Uint8Array(randomBytes(segments * 256))
  const meta: FragmentMeta = { dealId: toHex(randomBytes(32)), slot, size: bytes.length, root: toHex(merkleRoot(bytes)), owner }
  return { bytes, meta }
}

export async function collect (it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of it) parts.push(c)
  return new Uint8Array(Buffer.concat(parts))
}

export async function waitFor (cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** A connected pair of loopback sockets (server: the accepted end), destroyed by `cleanup`. */
export async function socketPair (cleanup: Cleanup): Promise<{ client: Socket, server: Socket }> {
  const srv: Server = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const port = (srv.address() as { port: number }).port
  const accepted = once(srv, 'connection')
  const client = connect(port, '127.0.0.1')
  await once(client, 'connect')
  const [server] = await accepted as [Socket]
  cleanup.add(async () => { client.destroy(); server.destroy(); srv.close() })
  return { client, server }
}
