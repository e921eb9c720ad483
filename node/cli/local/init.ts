/** `bitdust init`: a new identity (or an imported keystore) in the data directory. */
import { existsSync, readFileSync } from 'node:fs'
import { decryptKeystore, keystorePath, saveKeystore } from '../../crypto/keystore.ts'
import { generateIdentity } from '../../crypto/identity.ts'
import type { CommandContext } from '../run.ts'
import { passphrase } from './passphrase.ts'

export class IdentityExistsError extends Error {
  override name = 'IdentityExistsError'
  constructor (path: string) {
    super(`An identity already exists at ${path}. Back it up, or pass --force to replace it (the old key and its files are lost unless backed up).`)
  }
}

export default async function init (ctx: CommandContext): Promise<number> {
  const path = keystorePath(ctx.datadir)
  if (existsSync(path) && ctx.flags.force !== true) throw new IdentityExistsError(path)
  const imported = ctx.flags.import
  const pass = await passphrase(typeof imported === 'string' ? 'Passphrase of the keystore to import: ' : 'New passphrase for your keystore: ')
  const identity = typeof imported === 'string'
    ? await decryptKeystore(readFileSync(imported, 'utf8'), pass)
    : generateIdentity()
  await saveKeystore(ctx.datadir, identity, pass)
  const info = { address: identity.address, publicKey: Buffer.from(identity.publicKey).toString('hex'), keystore: path }
  ctx.out.result(info, () => [
    `Your identity: ${identity.address}`,
    `Public key (give it to contacts): ${info.publicKey}`,
    `Keystore: ${path}`,
    'Back up this file and remember its passphrase: with them alone you can restore all your files on any machine.',
  ].join('\n'))
  return 0
}
