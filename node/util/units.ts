/** Amounts as people read them: bytes in binary units, token base units as whole tokens. */

export function human (n: number | bigint | string): string {
  const v = Number(n)
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let x = v
  while (x >= 1024 && i < units.length - 1) { x /= 1024; i++ }
  return i === 0 ? `${v} B` : `${x.toFixed(1)} ${units[i]}`
}

/** Token amounts: 18 decimals, shown without float rounding. */
export function tokens (base: bigint | string, decimals = 18, symbol = 'DUST'): string {
  const v = BigInt(base)
  const neg = v < 0n
  const abs = neg ? -v : v
  const unit = 10n ** BigInt(decimals)
  const whole = abs / unit
  const frac = (abs % unit).toString().padStart(decimals, '0').replace(/0+$/, '')
  return `${neg ? '-' : ''}${whole}${frac ? '.' + frac : ''} ${symbol}`
}

/** A span of time as a person says it, to two units: "45 s", "29 min", "6 d 23 h". */
export function duration (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min`
  const h = Math.floor(m / 60)
  if (h < 24) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`
  const d = Math.floor(h / 24)
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`
}
