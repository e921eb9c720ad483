/**
 * The consumer's own index of its files (and files shared with it), in the node's Level database.
 * It is a cache: the chain (deals by consumer) and the suppliers (sealed manifests) can rebuild
 * it from the keystore alone.
 */
import type { Hex } from 'viem'
import type { Manifest } from '../storage/manifest.ts'

export interface FileRecord {
  /** The deal id: a file's name on the network. */
  id: Hex
  name: string
  size: number
  manifest: Manifest
  /** Mine, or shared with me by the owner (public key). */
  origin: 'own' | 'shared'
  state: 'active' | 'removed'
  created: number
}

/** An upload between "deal opened" and "all slots filled": what a restart resumes. */
export interface PendingUpload {
  uploadId: string
  /** The file being uploaded: a resumed upload encodes it again. */
  path?: string
  /** Its size and modification time when the roots were computed. */
  stamp?: { size: number, mtimeMs: number }
  /** The cipher's nonce salt (0x-hex): with the sealed key, the same fragment bytes again. */
  salt?: string
  /** Fragment spool of uploads started by versions before streaming (removed, not resumed). */
  dir?: string
  name: string
  dealId?: Hex
  /** Coding parameters, fragment paths and the sealed file key, as encoded. */
  encoded: string
  started: number
}

export interface KV {
  get: (key: string) => Promise<string | undefined>
  put: (key: string, value: string) => Promise<void>
  del: (key: string) => Promise<void>
  values: (options?: { gte?: string, lt?: string }) => AsyncIterable<string>
}

export class AmbiguousFileIdError extends Error {
  override name = 'AmbiguousFileIdError'
}

export class FileNotFoundError extends Error {
  override name = 'FileNotFoundError'
  constructor (id: string) {
    super(`No file ${id}. \`bitdust ls\` lists your files; a file shared with you is downloaded by its full id.`)
  }
}

export class FilesDb {
  private readonly db: KV
  constructor (db: KV) { this.db = db }

  async put (r: FileRecord): Promise<void> { await this.db.put(`f:${r.id.toLowerCase()}`, JSON.stringify(r)) }

  async get (id: string): Promise<FileRecord | undefined> {
    const v = await this.db.get(`f:${id.toLowerCase()}`)
    return v === undefined ? undefined : JSON.parse(v) as FileRecord
  }

  async list (): Promise<FileRecord[]> {
    const out: FileRecord[] = []
    for await (const v of this.db.values({ gte: 'f:', lt: 'f;' })) out.push(JSON.parse(v) as FileRecord)
    return out.sort((a, b) => a.created - b.created)
  }

  /** A file by its id or any unique prefix of it (with or without 0x). */
  async resolve (idOrPrefix: string): Promise<FileRecord> {
    const p = idOrPrefix.toLowerCase().replace(/^0x/, '')
    const exact = await this.get(`0x${p}`)
    if (exact !== undefined) return exact
    const hits = (await this.list()).filter((r) => r.state === 'active' && r.id.toLowerCase().slice(2).startsWith(p))
    if (hits.length === 1) return hits[0] as FileRecord
    if (hits.length > 1) throw new AmbiguousFileIdError(`"${idOrPrefix}" matches ${hits.length} files; give more of the id.`)
    throw new FileNotFoundError(idOrPrefix)
  }

  async putPending (u: PendingUpload): Promise<void> { await this.db.put(`u:${u.uploadId}`, JSON.stringify(u)) }
  async delPending (uploadId: string): Promise<void> { await this.db.del(`u:${uploadId}`) }
  async pending (): Promise<PendingUpload[]> {
    const out: PendingUpload[] = []
    for await (const v of this.db.values({ gte: 'u:', lt: 'u;' })) out.push(JSON.parse(v) as PendingUpload)
    return out
  }
}
