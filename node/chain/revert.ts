/**
 * Turning viem errors into the chain layer's errors: reverts into ContractRevertError (decoded
 * against every BitDust ABI, since a Market call can revert inside the Token), unreachable
 * endpoints into RpcUnavailableError, empty accounts into InsufficientFundsError.
 */
import { BaseError, decodeErrorResult } from 'viem'
import type { Abi, Hex } from 'viem'
import { ContractRevertError } from './errors.ts'
import { describeRevert } from './revert-messages.ts'

const PANIC_REASONS: Record<number, string> = {
  0x01: 'an internal assertion failed',
  0x11: 'an arithmetic operation overflowed or underflowed',
  0x12: 'a division by zero',
  0x21: 'an invalid enum value',
  0x31: 'pop on an empty array',
  0x32: 'an array index out of bounds',
  0x41: 'too much memory was allocated',
  0x51: 'a call to an uninitialized function',
}

function walk (err: unknown, visit: (e: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
  let e: unknown = err
  for (let depth = 0; e !== null && typeof e === 'object' && depth < 12; depth++) {
    if (visit(e as Record<string, unknown>)) return e as Record<string, unknown>
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

function isHex (v: unknown): v is Hex {
  return typeof v === 'string' && /^0x([0-9a-fA-F]{2})*$/.test(v)
}

/** The raw revert data carried somewhere in an error chain, if the failure was a revert. */
export function revertData (err: unknown): Hex | undefined {
  let found: Hex | undefined
  walk(err, (e) => {
    if (isHex(e.raw)) { found = e.raw; return true }
    if (e.name === 'RawContractError' && isHex(e.data)) { found = e.data; return true }
    // JSON-RPC revert (code 3, geth/anvil/hardhat) carries the return data as `data`.
    if (e.code === 3 && isHex(e.data)) { found = e.data; return true }
    if (isHex(e.data) && (e.data as string).length >= 10) { found = e.data; return true }
    return false
  })
  return found
}

/** Whether the chain said "execution reverted" at all (even without data). */
export function isRevert (err: unknown): boolean {
  if (revertData(err) !== undefined) return true
  return walk(err, (e) => e.name === 'ContractFunctionRevertedError' || e.code === 3 ||
    (typeof e.message === 'string' && /execution reverted|reverted with/i.test(e.message))) !== undefined
}

export function isNetworkError (err: unknown): boolean {
  return walk(err, (e) => {
    const name = typeof e.name === 'string' ? e.name : ''
    if (['HttpRequestError', 'TimeoutError', 'SocketClosedError', 'WebSocketRequestError'].includes(name)) return true
    const code = typeof e.code === 'string' ? e.code : ''
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'].includes(code)) return true
    return typeof e.message === 'string' && /fetch failed|socket hang up|other side closed/i.test(e.message)
  }) !== undefined
}

export function isInsufficientFunds (err: unknown): boolean {
  return walk(err, (e) => e.name === 'InsufficientFundsError' ||
    (typeof e.message === 'string' && /insufficient funds|doesn't have enough funds|sender balance/i.test(e.message))) !== undefined
}

export function isNonceError (err: unknown): boolean {
  return walk(err, (e) => typeof e.message === 'string' && /nonce too low|nonce.*(lower|already been used)|already known|replacement transaction underpriced/i.test(e.message)) !== undefined
}

/** Combines the error entries of several ABIs (duplicates by signature are harmless for decoding). */
export function errorsAbi (abis: readonly Abi[]): Abi {
  const seen = new Set<string>()
  const out: Abi[number][] = []
  for (const abi of abis) {
    for (const item of abi) {
      if (item.type !== 'error') continue
      const key = `${item.name}(${item.inputs.map((i) => i.type).join(',')})`
      if (seen.has(key)) continue
      seen.add(key)
      out.push(item)
    }
  }
  return out
}

/** Decodes revert data into a ContractRevertError with a sentence for a person. */
export function decodeRevertData (data: Hex, abi: Abi, functionName: string): ContractRevertError {
  if (data === '0x') return new ContractRevertError('unknown', [], functionName, 'the contract reverted without a reason')
  try {
    const decoded = decodeErrorResult({ abi, data })
    const args = (decoded.args ?? []) as readonly unknown[]
    if (decoded.errorName === 'Error') {
      return new ContractRevertError('Error', args, functionName, String(args[0]))
    }
    if (decoded.errorName === 'Panic') {
      const code = Number(args[0])
      return new ContractRevertError('Panic', args, functionName, `the contract panicked: ${PANIC_REASONS[code] ?? `code ${code}`}`)
    }
    return new ContractRevertError(decoded.errorName, args, functionName, describeRevert(decoded.errorName, args))
  } catch {
    return new ContractRevertError('unknown', [data.slice(0, 10)], functionName, `the contract reverted with an error this node does not know (selector ${data.slice(0, 10)}); is the node older than the contracts?`)
  }
}

/** A ContractRevertError if `err` is a revert, else undefined. */
export function asRevert (err: unknown, abi: Abi, functionName: string): ContractRevertError | undefined {
  if (err instanceof ContractRevertError) return err
  const data = revertData(err)
  if (data !== undefined) return decodeRevertData(data, abi, functionName)
  if (!isRevert(err)) return undefined
  const reason = walk(err, (e) => typeof e.reason === 'string')?.reason as string | undefined
  const msg = err instanceof BaseError ? err.shortMessage : String(err)
  return new ContractRevertError(reason !== undefined ? 'Error' : 'unknown', reason !== undefined ? [reason] : [], functionName, reason ?? msg)
}
