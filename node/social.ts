/**
 * Contacts, direct chat, group chat and file sharing as API routes. A contact is a name the user
 * gives to a public key; everything sent to it is sealed to that key (node/p2p does the crypto).
 */
import type { Route } from './api/server.ts'
import { BadRequestError, NotFoundError } from './api/errors.ts'
import type { NodeService } from './node.ts'
import type { Db } from './node.ts'
import type { P2PNode, StoredMessage } from './p2p/index.ts'
import { peerIdOfPublicKey } from './p2p/peer-of-key.ts'
import { publicKeyOfPeer } from './p2p/peer-identity.ts'
import { addressOfPublicKey } from './crypto/identity.ts'

/** A direct message carrying a shared file's manifest (sealed to the recipient), not chat. */
export const SHARE_PREFIX = 'bitdust-share:v1:'

export interface Contact { name: string, publicKey: string, peerId: string, address: string }

export interface SocialComponents {
  db: Db
  p2p: P2PNode
  share: (fileId: string, contact: { name: string, publicKey: string }) => Promise<unknown>
}

export class ContactNotFoundError extends Error {
  override name = 'ContactNotFoundError'
  constructor (who: string) {
    super(`No contact "${who}". Add one with \`bitdust contacts add NAME PUBLIC_KEY\` (they see their key with \`bitdust status\`).`)
  }
}

/** A contact from a public key (hex, 33 or 65 bytes) or a peer id. */
export function contactOf (name: string, key: string): Contact {
  if (!/^[\p{L}\p{N}_.@ -]{1,64}$/u.test(name)) throw new BadRequestError('A contact name is 1 to 64 letters, digits, spaces or _.@-')
  let publicKey: string
  try {
    publicKey = /^(0x)?[0-9a-fA-F]{66}$|^(0x)?[0-9a-fA-F]{130}$/.test(key)
      ? key.replace(/^0x/, '')
      : Buffer.from(publicKeyOfPeer(key)).toString('hex')
  } catch {
    throw new BadRequestError(`"${key}" is neither a public key (hex) nor a peer id.`)
  }
  const peerId = peerIdOfPublicKey(publicKey)
  const pub = Buffer.from(publicKeyOfPeer(peerId)).toString('hex')
  return { name, publicKey: pub, peerId, address: addressOfPublicKey(pub) }
}

export function socialService (c: SocialComponents): NodeService {
  const contacts = c.db.sublevel<string, string>('contacts', { valueEncoding: 'utf8' })
  const all = async (): Promise<Contact[]> => {
    const out: Contact[] = []
    for await (const v of contacts.values()) out.push(JSON.parse(v) as Contact)
    return out
  }
  const resolve = async (who: string): Promise<Contact> => {
    const list = await all()
    const hit = list.find((x) => x.name === who) ?? list.find((x) => x.peerId === who || x.publicKey === who.replace(/^0x/, '') || x.address.toLowerCase() === who.toLowerCase())
    if (hit !== undefined) return hit
    try { return contactOf(who.slice(0, 16), who) } catch { throw new ContactNotFoundError(who) }
  }
  const nameOf = async (peerId: string): Promise<string> => {
    if (peerId === c.p2p.peerId) return 'me'
    return (await all()).find((x) => x.peerId === peerId)?.name ?? peerId
  }
  const view = async (m: StoredMessage): Promise<Record<string, unknown>> => ({ id: m.id, from: await nameOf(m.from), text: m.text, time: m.time, direction: m.direction, delivered: m.direction === 'out' ? m.acked : undefined })
  const body = (b: unknown): Record<string, unknown> => (b ?? {}) as Record<string, unknown>
  const text = (v: unknown): string => {
    if (typeof v !== 'string' || v.length === 0) throw new BadRequestError('Say something: the message text is empty.')
    return v
  }
  const group = (idOrName: string): string => {
    const g = c.p2p.groups.get(idOrName) ?? c.p2p.groups.list().find((x) => x.name === idOrName)
    if (g === undefined) throw new NotFoundError(`No group "${idOrName}". \`bitdust group create NAME\` makes one; an invitation adds you to someone else's.`)
    return g.id
  }

  const routes: Route[] = [
    {
      method: 'POST',
      path: '/contacts',
      handler: async (r) => {
        const b = body(r.body)
        const ct = contactOf(String(b.name ?? ''), String(b.publicKey ?? b.peerId ?? ''))
        await contacts.put(ct.name, JSON.stringify(ct))
        return ct
      },
    },
    {
      method: 'GET',
      path: '/contacts',
      handler: async () => (await all()).map((x) => ({ ...x, online: c.p2p.libp2p.getConnections().some((conn) => conn.remotePeer.toString() === x.peerId) })),
    },
    {
      method: 'POST',
      path: '/chat',
      handler: async (r) => {
        const b = body(r.body)
        const to = await resolve(String(b.to ?? ''))
        const m = await c.p2p.messages.send(to.peerId, text(b.text))
        return { ...(await view(m)), state: m.acked ? 'delivered' : 'queued (they will get it when they come online)' }
      },
    },
    {
      method: 'GET',
      path: '/chat/:who',
      handler: async (r) => {
        const who = await resolve(r.params.who as string)
        return await Promise.all((await c.p2p.messages.history(who.peerId)).filter((m) => m.kind === 'text' && !m.text.startsWith(SHARE_PREFIX)).map(view))
      },
    },
    { method: 'GET', path: '/groups', handler: async () => c.p2p.groups.list().map((g) => ({ id: g.id, name: g.name })) },
    {
      method: 'POST',
      path: '/groups',
      handler: async (r) => {
        const g = await c.p2p.groups.create(String(body(r.body).name ?? 'group'))
        return { id: g.id, name: g.name }
      },
    },
    {
      method: 'POST',
      path: '/groups/:id/invite',
      handler: async (r) => {
        const who = await resolve(String(body(r.body).contact ?? ''))
        await c.p2p.groups.invite(group(r.params.id as string), who.peerId)
        return { invited: who.name }
      },
    },
    {
      method: 'POST',
      path: '/groups/:id/messages',
      handler: async (r) => await view(await c.p2p.groups.send(group(r.params.id as string), text(body(r.body).text))),
    },
    {
      method: 'GET',
      path: '/groups/:id/messages',
      handler: async (r) => await Promise.all((await c.p2p.groups.history(group(r.params.id as string))).map(view)),
    },
    {
      method: 'POST',
      path: '/files/:id/share',
      handler: async (r) => {
        const who = await resolve(String(body(r.body).contact ?? ''))
        return await c.share(r.params.id as string, { name: who.name, publicKey: who.publicKey })
      },
    },
  ]
  return { name: 'social', routes }
}
