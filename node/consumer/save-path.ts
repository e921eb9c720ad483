/**
 * Where a download lands, and the file names that travel in manifests.
 *
 * A manifest's name is someone else's words once a file is shared: a sharer could name a file
 * `../../.bashrc`. A name is therefore made safe at the point of saving, whatever the upload side
 * allowed, and the upload side refuses names that would need it.
 */
import { constants, existsSync } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { dirname, join, parse, resolve } from 'node:path'
import { BadRequestError } from '../api/errors.ts'

/** Most file systems cap a name at 255 bytes; leave room for a " (12)" suffix. */
const MAX_NAME_BYTES = 240
// Separators, and control characters that would garble a terminal when the name is shown.
const UNSAFE = /[/\\\u0000-\u001f\u007f]/
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g')

/** Why a name given for an upload cannot be used, or undefined when it can. */
export function fileNameProblem (name: string): string | undefined {
  if (name.trim() === '' || name === '.' || name === '..') return 'A file name cannot be empty, "." or "..".'
  if (/[/\\]/.test(name)) return `A file name cannot contain / or \\ (got "${name}"); give the name alone, without folders.`
  if (UNSAFE.test(name)) return 'A file name cannot contain control characters.'
  return undefined
}

/** A manifest's name as a single path component: never a folder, never outside the target. */
export function safeFileName (name: string): string {
  let s = name.replace(UNSAFE_ALL, '_').trim()
  if (s === '' || /^\.+$/.test(s)) s = 'file'
  if (Buffer.byteLength(s) <= MAX_NAME_BYTES) return s
  // Cut the stem, keep a short extension, and never split a character.
  const p = parse(s)
  const ext = Buffer.byteLength(p.ext) <= 16 ? p.ext : ''
  let stem = ext === '' ? s : p.name
  while (Buffer.byteLength(stem) + Buffer.byteLength(ext) > MAX_NAME_BYTES) stem = [...stem].slice(0, -1).join('')
  return stem + ext
}

/**
 * The file a download writes. `path` names the file (an existing folder: a file inside it, named as
 * the manifest says); without it the file goes into `dir` under its own name, never over another.
 * Checked before any fragment is fetched, so a typo costs nothing.
 */
export async function saveTarget (out: { path?: string, dir?: string }, name: string): Promise<string> {
  if (out.path !== undefined) {
    const path = resolve(out.path)
    const info = await stat(path).catch(() => undefined)
    if (info?.isDirectory() === true) return await inFolder(path, name)
    await writableFolder(dirname(path), path)
    return path
  }
  return await inFolder(resolve(out.dir ?? process.cwd()), name)
}

async function inFolder (dir: string, name: string): Promise<string> {
  await writableFolder(dir, dir)
  return freePath(join(dir, safeFileName(name)))
}

async function writableFolder (dir: string, target: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined)
  if (info === undefined) throw new BadRequestError(`Cannot save to ${target}: the folder ${dir} does not exist. Create it first or choose another path with -o.`)
  if (!info.isDirectory()) throw new BadRequestError(`Cannot save to ${target}: ${dir} is not a folder.`)
  await access(dir, constants.W_OK).catch(() => { throw new BadRequestError(`Cannot save to ${target}: no permission to write in ${dir}. Choose another path with -o.`) })
}

/** `name`, or `name (1)`, `name (2)`… so a download never overwrites a file. */
export function freePath (path: string): string {
  if (!existsSync(path)) return path
  const p = parse(path)
  for (let i = 1; ; i++) {
    const candidate = join(p.dir, `${p.name} (${i})${p.ext}`)
    if (!existsSync(candidate)) return candidate
  }
}
