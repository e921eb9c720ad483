/** Defaults of the crypto layer, resolved once by the code that uses them. */

/** Ethereum keystore scrypt cost as written by geth and ethers (N = 2^17, r = 8, p = 1). */
export const KEYSTORE_SCRYPT = { N: 131072, r: 8, p: 1 } as const
/** Plaintext bytes per AES-GCM chunk of an encrypted file. */
export const FILE_CHUNK_SIZE = 1024 * 1024
/** Largest chunk size a decoder accepts (bounds memory on hostile headers). */
export const MAX_FILE_CHUNK_SIZE = 16 * 1024 * 1024
/** Format version of sealed boxes. */
export const SEAL_VERSION = 1
/** Format version of encrypted files. */
export const FILE_CIPHER_VERSION = 1
