/** Text formatting shared by the terminal tables and docs/performance.md. */
import type { Spread } from './stats.js';
import { round } from './stats.js';

export function num(v: number | null | undefined, digits?: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (digits !== undefined) return v.toFixed(digits);
  const r = round(v);
  return Math.abs(r) >= 1000 ? r.toLocaleString('en-US') : String(r);
}

/** "median (min–max)", or just the median for a single run. */
export function spreadText(s: Spread | null | undefined): string {
  if (!s || s.n === 0) return '–';
  if (s.n === 1) return num(s.median);
  return `${num(s.median)} (${num(s.min)}–${num(s.max)})`;
}

export function ratioText(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : `${round(v)}×`;
}

/** A plain-text table with aligned columns, for the terminal. */
export function textTable(title: string, header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [title, line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The same table as GitHub markdown. */
export function markdownTable(header: string[], rows: string[][], align: 'numbers' | 'left' = 'numbers'): string {
  const esc = (c: string): string => c.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 || align === 'left' ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}
