/**
 * One error class per condition, with a stable `name` that callers and tests match on. Errors a
 * supplier returns over the wire travel as their `name` (the code) plus a message; the caller turns
 * the code back into the same class with `errorFromCode`, so remote and local failures look alike.
 */
export class P2PError extends Error {
  override name = 'P2PError'
}

export class MessageTooLargeError extends P2PError {
  override name = 'MessageTooLargeError'
}
export class MalformedMessageError extends P2PError {
  override name = 'MalformedMessageError'
}
export class UnsupportedVersionError extends P2PError {
  override name = 'UnsupportedVersionError'
}
export class UnexpectedMessageError extends P2PError {
  override name = 'UnexpectedMessageError'
}
/** No connection to a peer could be made: it is offline, or none of its addresses answer. */
export class PeerUnreachableError extends P2PError {
  override name = 'PeerUnreachableError'
}
export class PeerTimeoutError extends P2PError {
  override name = 'PeerTimeoutError'
}
export class StreamEndedError extends P2PError {
  override name = 'StreamEndedError'
}
export class QuotaExceededError extends P2PError {
  override name = 'QuotaExceededError'
}
export class FragmentRootMismatchError extends P2PError {
  override name = 'FragmentRootMismatchError'
}
export class FragmentSizeMismatchError extends P2PError {
  override name = 'FragmentSizeMismatchError'
}
export class FragmentNotFoundError extends P2PError {
  override name = 'FragmentNotFoundError'
}
export class FragmentExistsError extends P2PError {
  override name = 'FragmentExistsError'
}
export class InvalidRangeError extends P2PError {
  override name = 'InvalidRangeError'
}
export class InvalidSignatureError extends P2PError {
  override name = 'InvalidSignatureError'
}
export class AddressMismatchError extends P2PError {
  override name = 'AddressMismatchError'
}
export class OfferExpiredError extends P2PError {
  override name = 'OfferExpiredError'
}
export class InsufficientStakeError extends P2PError {
  override name = 'InsufficientStakeError'
}
export class NotAcceptingError extends P2PError {
  override name = 'NotAcceptingError'
}
export class DirectConnectionRefusedError extends P2PError {
  override name = 'DirectConnectionRefusedError'
}
export class NoRelayError extends P2PError {
  override name = 'NoRelayError'
}
export class MessageDecryptError extends P2PError {
  override name = 'MessageDecryptError'
}
export class NotGroupMemberError extends P2PError {
  override name = 'NotGroupMemberError'
}
export class RateLimitedError extends P2PError {
  override name = 'RateLimitedError'
}
/** The remote answered with a code this version does not know. */
export class RemoteError extends P2PError {
  override name = 'RemoteError'
}

type P2PErrorClass = new (message: string) => P2PError

const BY_CODE: Record<string, P2PErrorClass> = Object.fromEntries([
  MessageTooLargeError, MalformedMessageError, UnsupportedVersionError, UnexpectedMessageError,
  PeerTimeoutError, StreamEndedError, QuotaExceededError, FragmentRootMismatchError,
  FragmentSizeMismatchError, FragmentNotFoundError, FragmentExistsError, InvalidRangeError,
  InvalidSignatureError, AddressMismatchError, OfferExpiredError, InsufficientStakeError,
  NotAcceptingError, NotGroupMemberError, MessageDecryptError, RateLimitedError
].map((C) => [new C('').name, C]))

/** The wire code for an error: its name if it is one of ours, else a generic code. */
export function codeOf (err: unknown): string {
  const name = (err as Error | undefined)?.name
  return name != null && BY_CODE[name] != null ? name : 'RemoteError'
}

export function errorFromCode (code: string, message: string): P2PError {
  const C = BY_CODE[code] ?? RemoteError
  return new C(message)
}
