/** Number formats of the page: ms, bytes, rates, ages. Pure. */

/** `12.3 ms`, `1.24 s`; `-` when unknown. */
export function ms(v: number | null | undefined): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '-';
  if (v >= 1000) return `${(v / 1000).toFixed(2)} s`;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ms`;
}

/** `512 B`, `1.5 KiB`, `64.0 MiB`. */
export function bytes(v: number | null | undefined): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let x = v;
  let u = 0;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return u === 0 ? `${x} B` : `${x.toFixed(1)} ${units[u]}`;
}

/** `87.5%` of a ratio in 0..1. */
export function percent(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '-';
}

/** `12.4 Mbit/s`. */
export function mbps(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} Mbit/s` : '-';
}

/** Wall-clock time of day of an epoch ms, `14:03:07`. */
export function clockTime(at: number | null | undefined): string {
  if (typeof at !== 'number' || !Number.isFinite(at)) return '-';
  const d = new Date(at);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** A cost term's value: numbers to 2 decimals, text as is. */
export function term(v: unknown): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v);
}
