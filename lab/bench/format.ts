// Number formats shared by the report's tables.

/** A fraction as a percentage. @example percent(0.98123) // '98.12%' */
export function percent(fraction: number, digits = 2): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)}%` : '—';
}

/** An integer with thousands separators. @example thousands(109194) // '109,194' */
export function thousands(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A duration. @example seconds(42.31) // '42.3 s'; seconds(6200) // '1 h 43 min' */
export function seconds(s: number): string {
  if (!Number.isFinite(s)) return '—';
  if (s < 120) return `${s.toFixed(1)} s`;
  const min = Math.round(s / 60);
  return min < 120 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
}

/** kB (as /proc reports them) as MiB. @example mebibytes(204800) // '200.0 MiB' */
export function mebibytes(kb: number): string {
  return Number.isFinite(kb) ? `${(kb / 1024).toFixed(1)} MiB` : '—';
}

/** A number with `digits` decimals, or a dash. @example fixed(2.456, 2) // '2.46' */
export function fixed(n: number | undefined, digits: number): string {
  return n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : '—';
}

/** A signed difference. @example signed(-0.0012, 2, 100) // '−0.12' */
export function signed(n: number, digits: number, scale = 1): string {
  const v = n * scale;
  return `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}`;
}

/** Escape a table cell (pipes would split it). @example cell('a|b') // 'a\\|b' */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
