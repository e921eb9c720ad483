/** Errors the API turns into HTTP statuses; anything else thrown by a handler is a 500. */
export class BadRequestError extends Error {
  override name = 'BadRequestError'
}
export class NotFoundError extends Error {
  override name = 'NotFoundError'
}
export class UnauthorizedError extends Error {
  override name = 'UnauthorizedError'
  constructor () { super('Missing or wrong API token. The CLI reads it from <datadir>/api.json; pass --api or --datadir to pick the node.') }
}

/** An error reported by a node's API, rebuilt on the client side with the server's name and message. */
export class ApiError extends Error {
  override name: string
  readonly status: number
  constructor (name: string, message: string, status: number) {
    super(message)
    this.name = name
    this.status = status
  }
}

export class NodeUnreachableError extends Error {
  override name = 'NodeUnreachableError'
  constructor (url: string, cause?: unknown) {
    super(`No BitDust node answers at ${url}. Start one with \`bitdust start\` (or \`npm start\` for a local network), or pass --api URL.`, { cause })
  }
}

const STATUS: Record<string, number> = {
  BadRequestError: 400,
  UnauthorizedError: 401,
  NotFoundError: 404,
  ConfigError: 400,
}

/** Error names ending in these words are the caller's problem, not the node's. */
export function statusOf (err: unknown): number {
  const name = err instanceof Error ? err.name : ''
  if (name in STATUS) return STATUS[name] as number
  if (/NotFound/.test(name)) return 404
  if (/(Invalid|Malformed|TooLarge|Missing)/.test(name)) return 400
  if (err instanceof Error && name !== 'Error' && name !== 'TypeError' && name !== 'RangeError') return 409
  return 500
}
