import { expect } from 'chai'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { lowerPriority, PriorityError } from '../../../node/util/priority.ts'

const MODULE = join(import.meta.dirname, '..', '..', '..', 'node', 'util', 'priority.ts')

describe('util/priority', function () {
  this.timeout(60_000)

  it('refuses a niceness it cannot or must not set, before touching anything', () => {
    for (const bad of [-1, 20, 2.5, Number.NaN]) expect(() => lowerPriority(bad)).to.throw(PriorityError, /nice must be an integer from 0 to 19/)
    // 0 is the priority every process starts with: nothing to do.
    expect(lowerPriority(0)).to.equal(0)
  })

  it('sets every thread of the process, and the threads started later inherit it (Linux)', function () {
    if (!existsSync('/proc/self/task')) this.skip()
    // In a child: this process's own priority is the test runner's, and must stay so.
    const script = `
      import { readdirSync, readFileSync } from 'node:fs'
      import { pbkdf2 } from 'node:crypto'
      const { lowerPriority } = await import(${JSON.stringify(MODULE)})
      const set = lowerPriority(7)
      // Work for the libuv pool: its threads start now, after the change.
      await Promise.all(Array.from({ length: 8 }, () => new Promise((ok) => pbkdf2('p', 's', 20000, 32, 'sha256', ok))))
      // /proc/<pid>/task/<tid>/stat: the 19th field is the niceness (after the name in parentheses).
      const nice = readdirSync('/proc/self/task').map((t) => ({ t, comm: readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim(), nice: Number(readFileSync('/proc/self/task/' + t + '/stat', 'utf8').split(') ')[1].split(' ')[16]) }))
      console.log(JSON.stringify({ set, nice, again: lowerPriority(3) }))
    `
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { set: number, nice: Array<{ comm: string, nice: number }>, again: number }
    expect(out.set).to.be.greaterThan(1)
    expect(out.nice.some((t) => t.comm.startsWith('libuv-worker'))).to.equal(true)
    for (const t of out.nice) expect(t, t.comm).to.have.property('nice', 7)
    // Lowering to less than it already is would be raising it: left alone.
    expect(out.again).to.equal(0)
  })
})
