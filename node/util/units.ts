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
