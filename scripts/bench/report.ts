/**
 * Benchmarks own one section each of BENCHMARKS.md, between `<!-- bench:NAME -->` markers, so that
 * several benchmark scripts can rewrite their results without touching each other's.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { arch, cpus, totalmem } from 'node:os'
import { join } from 'node:path'

const FILE = join(import.meta.dirname, '..', '..', 'BENCHMARKS.md')
const HEADER = '# Benchmarks\n\nEvery section is written by the command it names; numbers from a shared, noisy 2-core machine,\n' +
  'so each compares against a reference measured in the same run.\n'

export function machine (): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  return `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${arch()}, Node ${process.version}`
}

export function writeSection (name: string, markdown: string): void {
  const start = `<!-- bench:${name} -->`
  const end = `<!-- /bench:${name} -->`
  const block = `${start}\n${markdown.trim()}\n${end}`
  let doc = existsSync(FILE) ? readFileSync(FILE, 'utf8') : HEADER
  const from = doc.indexOf(start)
  const to = doc.indexOf(end)
  doc = from >= 0 && to > from
    ? doc.slice(0, from) + block + doc.slice(to + end.length)
    : `${doc.trimEnd()}\n\n${block}\n`
  const tmp = `${FILE}.${process.pid}.tmp`
  writeFileSync(tmp, doc)
  renameSync(tmp, FILE)
}

/** A markdown table from a header row and rows. */
export function table (head: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>): string => `| ${cells.join(' | ')} |`
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n')
}
