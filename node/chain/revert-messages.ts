/**
 * A sentence for a person per known custom error: what went wrong and what to do. Unknown names
 * fall back to the name and arguments. Keep in step with contracts/interfaces/*.sol.
 */
type Describe = (args: readonly unknown[]) => string

const a = (args: readonly unknown[], i: number): string => String(args[i])

const MESSAGES: Record<string, Describe> = {
  // OpenZeppelin ERC20 / ERC2612 / Ownable / SafeERC20 / Pausable
  ERC20InsufficientBalance: (x) => `account ${a(x, 0)} holds ${a(x, 1)} tokens but ${a(x, 2)} are needed; get more tokens first`,
  ERC20InsufficientAllowance: (x) => `spender ${a(x, 0)} may move only ${a(x, 1)} tokens but ${a(x, 2)} are needed; approve (or permit) a larger amount`,
  ERC20InvalidReceiver: (x) => `tokens cannot be sent to ${a(x, 0)}`,
  ERC20InvalidSender: (x) => `tokens cannot be sent from ${a(x, 0)}`,
  ERC20InvalidApprover: (x) => `approver ${a(x, 0)} is invalid`,
  ERC20InvalidSpender: (x) => `spender ${a(x, 0)} is invalid`,
  ERC2612ExpiredSignature: (x) => `the permit signature expired at ${a(x, 0)}; sign a new one`,
  ERC2612InvalidSigner: (x) => `the permit was signed by ${a(x, 0)}, not by the owner ${a(x, 1)}; sign it with the owner's key`,
  InvalidAccountNonce: (x) => `nonce ${a(x, 1)} of ${a(x, 0)} is not the current one; sign the permit again`,
  OwnableUnauthorizedAccount: (x) => `${a(x, 0)} is not the owner and may not do this`,
  SafeERC20FailedOperation: (x) => `the token ${a(x, 0)} refused a transfer`,
  EnforcedPause: () => 'the contract is paused; wait until it is unpaused',
  ReentrancyGuardReentrantCall: () => 'a reentrant call was refused',
}

/** Adds or replaces sentences (the contracts' own errors register theirs here). */
export function registerRevertMessages (more: Record<string, Describe>): void {
  Object.assign(MESSAGES, more)
}

export function describeRevert (errorName: string, args: readonly unknown[]): string {
  const describe = MESSAGES[errorName]
  if (describe !== undefined) return describe(args)
  return `${errorName}${args.length > 0 ? `(${args.map(String).join(', ')})` : ''}`
}

export function knownRevertNames (): string[] {
  return Object.keys(MESSAGES)
}
