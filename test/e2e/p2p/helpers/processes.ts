/** Starts fixture peers as child processes and talks to them over IPC; kills them all at the end. */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { ChildProcess } from 'node:child_process'

const FIXTURE = new URL('../fixtures/peer.ts', import.meta.url).pathname

export interface PeerProcess {
  child: ChildProcess
  peerId: string
  address: string
  addrs: string[]
  /** The first direct (TCP) address. */
  addr: string
  call: <T = unknown>(cmd: Record<string, unknown>, timeoutMs?: number) => Promise<T>
  stderr: () => string
}

export class Processes {
  private readonly all: ChildProcess[] = []

  async spawn (config: Record<string, unknown>, timeoutMs = 30_000): Promise<PeerProcess> {
    const child = spawn(process.execPath, [FIXTURE], {
      env: { ...process.env, BITDUST_P2P_PEER: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc']
    })
    this.all.push(child)
    let err = ''
    child.stderr?.on('data', (b: Buffer) => { err += b.toString() })
    const lines = createInterface({ input: child.stdout! })
    const first = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`peer process did not start: ${err}`)), timeoutMs)
      lines.once('line', (l) => { clearTimeout(t); resolve(l) })
      child.once('exit', (code) => { clearTimeout(t); reject(new Error(`peer process exited with ${code}: ${err}`)) })
    })
    const info = JSON.parse(first) as { peerId: string, address: string, addrs: string[] }
    let next = 0
    const call = async <T>(cmd: Record<string, unknown>, ms = 30_000): Promise<T> => {
      const id = ++next
      return await new Promise<T>((resolve, reject) => {
        const t = setTimeout(() => { child.off('message', on); reject(new Error(`IPC ${String(cmd.cmd)} timed out`)) }, ms)
        const on = (m: { id: number, result?: T, error?: string }): void => {
          if (m.id !== id) return
          clearTimeout(t)
          child.off('message', on)
          if (m.error != null) reject(new Error(m.error))
          else resolve(m.result as T)
        }
        child.on('message', on)
        child.send({ ...cmd, id })
      })
    }
    return { child, ...info, addr: info.addrs.find((a) => !a.includes('p2p-circuit')) ?? info.addrs[0] as string, call, stderr: () => err }
  }

  async killAll (): Promise<void> {
    await Promise.all(this.all.splice(0).map(async (c) => {
      if (c.exitCode != null || c.signalCode != null) return
      const gone = new Promise((resolve) => c.once('exit', resolve))
      c.kill('SIGCONT')
      c.kill('SIGKILL')
      await gone
    }))
  }
}
