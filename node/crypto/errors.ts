/** Typed errors of the crypto layer: callers match on `name`, people read `message`. */

export class WrongPassphraseError extends Error {
  override name = 'WrongPassphraseError'
  constructor (path?: string) {
    super(`The passphrase does not unlock the keystore${path != null ? ` at ${path}` : ''}. Check the passphrase (it is case-sensitive) and try again.`)
  }
}

export class InvalidKeystoreError extends Error {
  override name = 'InvalidKeystoreError'
  constructor (reason: string, path?: string) {
    super(`The keystore${path != null ? ` at ${path}` : ''} is not a valid Ethereum V3 keystore (${reason}). Restore it from your backup.`)
  }
}

export class KeystoreNotFoundError extends Error {
  override name = 'KeystoreNotFoundError'
  constructor (path: string) {
    super(`No keystore at ${path}. Create an identity first (or copy your keystore.json backup there).`)
  }
}

export class InvalidKeyError extends Error {
  override name = 'InvalidKeyError'
  constructor (what: string) {
    super(`Invalid key: ${what}`)
  }
}

/** Sealed data or an encrypted file whose format version this code does not know. */
export class UnsupportedVersionError extends Error {
  override name = 'UnsupportedVersionError'
  constructor (what: string, version: number, supported: number) {
    super(`This ${what} has format version ${version}; this program understands version ${supported}. Upgrade BitDust to read it.`)
  }
}

/** Bytes that cannot be what they claim (too short, bad sizes, bad header). */
export class MalformedDataError extends Error {
  override name = 'MalformedDataError'
  constructor (what: string, reason: string) {
    super(`Malformed ${what}: ${reason}. The data is damaged or not a BitDust ${what}.`)
  }
}

/** AES-GCM refused: the bytes were changed, or this is not the key they were sealed to. */
export class SealAuthenticationError extends Error {
  override name = 'SealAuthenticationError'
  constructor () {
    super('Could not open the sealed data: it was sealed to a different key, or it was altered. Ask the sender to share it again.')
  }
}

/** AES-GCM refused a chunk of an encrypted file (tampering, truncation, reordering or wrong key). */
export class DecryptionError extends Error {
  override name = 'DecryptionError'
  constructor (reason: string) {
    super(`The encrypted file failed authentication (${reason}). It was altered, truncated or the key is wrong; no plaintext was written.`)
  }
}
