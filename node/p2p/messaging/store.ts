/**
 * Where direct and group messages are kept: a small injected interface. MemoryMessageStore for
 * tests and throwaway nodes; levelMessageStore over a `level` sublevel in the real node, which
 * makes the outbox survive a restart.
 */
import type { AbortOptions } from '@libp2p/interface'

export interface StoredMessage {
  id: string
  /** The other party (peer id) of a direct message, or the group id of a group message. */
  peer: string
  /** The author's peer id. */
  from: string
  direction: 'in' | 'out'
  /** A group invite is kept (and retried) like a message, but is not chat history. */
  kind: 'text' | 'group-invite'
  /** The text, or for an invite the JSON of the invitation. */
  text: string
  time: number
  /** Direct messages we sent: true once the recipient acknowledged. */
  acked: boolean
  attempts: number
  nextTry: number
  /** Group messages: the encrypted wire form, served to late joiners. */
  wire?: string
}

export interface MessageStore {
  put: (m: StoredMessage, options?: AbortOptions) => Promise<void>
  get: (id: string, options?: AbortOptions) => Promise<StoredMessage | undefined>
  /** Messages with `peer` (or in group `peer`), oldest first. */
  history: (peer: string, options?: AbortOptions & { since?: number, limit?: number }) => Promise<StoredMessage[]>
  /** Outgoing direct messages not yet acknowledged. */
  pending: (options?: AbortOptions) => Promise<StoredMessage[]>
  /** Groups this node is in, with their keys; without these, groups live only in memory. */
  putGroup?: (g: StoredGroup, options?: AbortOptions) => Promise<void>
  groups?: (options?: AbortOptions) => Promise<StoredGroup[]>
}

export interface StoredGroup {
  id: string
  name: string
  /** The group key, base64. */
  key: string
  members: string[]
  inviter: string
}

function select (all: Iterable<StoredMessage>, peer: string, since = 0, limit = Infinity): StoredMessage[] {
  const out = [...all].filter((m) => m.peer === peer && m.time >= since).sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : 1))
  return limit < out.length ? out.slice(out.length - limit) : out
}

export class MemoryMessageStore implements MessageStore {
  private readonly byId = new Map<string, StoredMessage>()
  async put (m: StoredMessage): Promise<void> { this.byId.set(m.id, { ...m }) }
  async get (id: string): Promise<StoredMessage | undefined> {
    const m = this.byId.get(id)
    return m == null ? undefined : { ...m }
  }

  async history (peer: string, options: { since?: number, limit?: number } = {}): Promise<StoredMessage[]> {
    return select(this.byId.values(), peer, options.since, options.limit)
  }

  async pending (): Promise<StoredMessage[]> {
    return [...this.byId.values()].filter((m) => m.direction === 'out' && !m.acked && m.wire == null)
  }

  private readonly groupsById = new Map<string, StoredGroup>()
  async putGroup (g: StoredGroup): Promise<void> { this.groupsById.set(g.id, { ...g, members: [...g.members] }) }
  async groups (): Promise<StoredGroup[]> { return [...this.groupsById.values()] }
}

/** The part of a `level` (sub)level with string keys and values that the store uses. */
export interface LevelLike {
  get: (key: string) => Promise<string | undefined>
  put: (key: string, value: string) => Promise<void>
  values: (options?: { gte?: string, lt?: string }) => AsyncIterable<string>
}

export function levelMessageStore (db: LevelLike): MessageStore {
  const all = async function * (): AsyncGenerator<StoredMessage> {
    for await (const v of db.values({ gte: 'm:', lt: 'm;' })) yield JSON.parse(v) as StoredMessage
  }
  return {
    async put (m) { await db.put(`m:${m.id}`, JSON.stringify(m)) },
    async get (id) {
      const v = await db.get(`m:${id}`)
      return v == null ? undefined : JSON.parse(v) as StoredMessage
    },
    async history (peer, options = {}) {
      const list: StoredMessage[] = []
      for await (const m of all()) if (m.peer === peer) list.push(m)
      return select(list, peer, options.since, options.limit)
    },
    async pending () {
      const list: StoredMessage[] = []
      for await (const m of all()) if (m.direction === 'out' && !m.acked && m.wire == null) list.push(m)
      return list
    },
    async putGroup (g) { await db.put(`g:${g.id}`, JSON.stringify(g)) },
    async groups () {
      const list: StoredGroup[] = []
      for await (const v of db.values({ gte: 'g:', lt: 'g;' })) list.push(JSON.parse(v) as StoredGroup)
      return list
    }
  }
}
