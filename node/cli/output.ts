/** How the CLI talks to a person (tables, progress bars) or a script (--json). */
import type { JobView, ProgressEvent } from '../api/jobs.ts'
import { toJson } from '../api/server.ts'
import { human } from '../util/units.ts'

export interface Output {
  json: boolean
  /** The command's result: pretty for people, one JSON document for scripts. */
  result: (value: unknown, pretty?: (value: unknown) => string) => void
  info: (line: string) => void
  progress: (job: JobView) => void
  done: () => void
}

/** Without a terminal, a bar is logged when its stage changes and at every this many percent. */
export const LOG_PROGRESS_STEP = 10

export function createOutput (json: boolean, stream: Pick<NodeJS.WriteStream, 'write' | 'isTTY'> = process.stderr): Output {
  let lastLine = ''
  // Without a terminal (a log file, a pipe) a bar cannot be redrawn in place, and one line per
  // update filled logs with hundreds of lines per transfer: log the stage, then each step.
  let lastStage = ''
  let lastStep = -1
  const tty = stream.isTTY === true
  return {
    json,
    result (value, pretty) {
      if (json) process.stdout.write(toJson(value) + '\n')
      else process.stdout.write((pretty ? pretty(value) : String(value)) + '\n')
    },
    info (line) { if (!json) stream.write(line + '\n') },
    progress (job) {
      if (json || job.progress === undefined) return
      const line = progressLine(job.progress)
      if (tty) {
        stream.write(`\r\x1b[2K${line}`)
      } else {
        const p = job.progress
        const stage = `${p.stage}\n${p.message ?? ''}`
        const step = p.total !== undefined && p.total > 0 && p.done !== undefined
          ? Math.floor(Math.min(1, p.done / p.total) * 100 / LOG_PROGRESS_STEP)
          : -1
        if (stage !== lastStage || step > lastStep) stream.write(line + '\n')
        if (stage !== lastStage) lastStep = -1
        lastStage = stage
        lastStep = Math.max(lastStep, step)
      }
      lastLine = line
    },
    done () { if (!json && tty && lastLine !== '') stream.write('\n'); lastLine = ''; lastStage = ''; lastStep = -1 },
  }
}

export function progressLine (p: ProgressEvent, width = 30): string {
  if (p.total === undefined || p.total === 0 || p.done === undefined) return `${p.stage}${p.message ? `: ${p.message}` : ''}`
  const frac = Math.min(1, p.done / p.total)
  const filled = Math.round(frac * width)
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled)
  return `${p.stage.padEnd(9)} ${bar} ${(frac * 100).toFixed(0).padStart(3)}%  ${human(p.done)}/${human(p.total)}${p.message ? `  ${p.message}` : ''}`
}

export function tableOf (rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)'
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? '')))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] as string).length)))
  const line = (vals: string[]): string => vals.map((v, i) => v.padEnd(widths[i] as number)).join('  ').trimEnd()
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n')
}
