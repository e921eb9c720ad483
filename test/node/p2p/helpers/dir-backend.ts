/**
 * A small FragmentBackend over a directory, for tests, e2e processes and the benchmark: streams to
 * a temp file while hashing, keeps it only if the Merkle root matches, removes it on any failure.
 * With `discard`, bytes are hashed but not written (benchmark: measures the network path).
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { once } from 'node:events'
import { FragmentExistsError, FragmentNotFoundError, FragmentRootMismatchError, FragmentSizeMismatchError, QuotaExceededError } from '../../../../node/p2p/errors.ts'
import { toHex } from '../../../../node/p2p/wire/hex.ts'
import { TreeBuilder } from '../../../../node/proofs/tree-builder.ts'
import { buildLevels, hashLeaves, proofPath } from '../../../../node/proofs/merkle.ts'
import type { AcceptOptions, FragmentBackend, FragmentMeta } from '../../../../node/p2p/fragments/backend.ts'
import { ROOT_LATER } from '../../../../node/proofs/constants.ts'
import type { AbortOptions } from '@libp2p/interface'

export interface DirBackendInit {
  quota?: number
  discard?: boolean
}

export class DirBackend implements FragmentBackend {
  readonly dir: string
  readonly quota: number
  readonly discard: boolean
  used = 0
  private reserved = 0
  private readonly metas = new Map<string, FragmentMeta>()

  constructor (dir: string, init: DirBackendInit = {}) {
    this.dir = dir
    this.quota = init.quota ?? Number.MAX_SAFE_INTEGER
    this.discard = init.discard === true
  }

  private key (dealId: string, slot: number): string { return `${dealId}-${slot}` }

  async check (meta: FragmentMeta): Promise<void> {
    if (this.metas.has(this.key(meta.dealId, meta.slot))) throw new FragmentExistsError(`Fragment ${meta.dealId}/${meta.slot} is already stored here.`)
    if (this.used + this.reserved + meta.size > this.quota) throw new QuotaExceededError(`This supplier has ${this.quota - this.used - this.reserved} bytes free, the fragment needs ${meta.size}; pick another supplier.`)
  }

  async accept (meta: FragmentMeta, data: AsyncIterable<Uint8Array>, options: AcceptOptions = {}): Promise<FragmentMeta> {
    await this.check(meta)
    this.reserved += meta.size
    if (!this.discard) await mkdir(this.dir, { recursive: true })
    const key = this.key(meta.dealId, meta.slot)
    const tmp = join(this.dir, `${key}.part`)
    const out = this.discard ? undefined : createWriteStream(tmp)
    let writeError: Error | undefined
    // Errors surface through the awaits below; a late one after destroy() must not go uncaught.
    out?.on('error', (err) => { writeError ??= err })
    const tree = new TreeBuilder()
    try {
      for await (const chunk of data) {
        options.signal?.throwIfAborted()
        await tree.update(chunk)
        if (tree.size > meta.size) throw new FragmentSizeMismatchError('more bytes than declared')
        if (out != null && !out.write(chunk)) await once(out, 'drain')
      }
      if (out != null) { out.end(); await once(out, 'finish') }
      if (writeError != null) throw writeError
      if (tree.size !== meta.size) throw new FragmentSizeMismatchError(`got ${tree.size} of ${meta.size} bytes`)
      const root = (await tree.digest()).root
      if (meta.root === ROOT_LATER && options.confirm !== undefined) {
        await options.confirm(toHex(root))
        meta = { ...meta, root: toHex(root) }
      } else if (root == null || toHex(root) !== meta.root) throw new FragmentRootMismatchError(`Fragment ${meta.dealId}/${meta.slot} does not match its Merkle root; it was not stored.`)
      if (out != null) await rename(tmp, join(this.dir, key))
      this.metas.set(key, { ...meta })
      this.used += meta.size
      return meta
    } catch (err) {
      out?.destroy()
      await rm(tmp, { force: true })
      throw err
    } finally {
      this.reserved -= meta.size
    }
  }

  async stat (dealId: string, slot: number): Promise<FragmentMeta> {
    const m = this.metas.get(this.key(dealId, slot))
    if (m == null) throw new FragmentNotFoundError(`No fragment ${dealId}/${slot} here.`)
    return m
  }

  async * read (dealId: string, slot: number, offset: number, length: number): AsyncIterable<Uint8Array> {
    await this.stat(dealId, slot)
    const file = join(this.dir, this.key(dealId, slot))
    await stat(file)
    for await (const chunk of createReadStream(file, { start: offset, end: offset + length - 1, highWaterMark: 256 * 1024 })) {
      yield chunk as Buffer
    }
  }

  async paths (dealId: string, slot: number, first: number, count: number): Promise<Uint8Array[][]> {
    await this.stat(dealId, slot)
    const bytes = await readFile(join(this.dir, this.key(dealId, slot)))
    const levels = buildLevels(hashLeaves(bytes))
    return Array.from({ length: count }, (_, i) => proofPath(levels, first + i))
  }

  async list (owner: string): Promise<FragmentMeta[]> {
    return [...this.metas.values()].filter((m) => m.owner === owner)
  }

  /** Files present on disk (temp files included): what "leaves nothing behind" checks. */
  async files (): Promise<string[]> {
    try { return await readdir(this.dir) } catch { return [] }
  }
}
