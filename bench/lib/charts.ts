/**
 * Charts as SVG, rendered headless: vega-lite compiles a spec to vega, and vega's View renders
 * SVG without a canvas (renderer 'none'). Each function returns null when there is nothing to draw.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { BenchResults } from './results.js';
import { label, REFERENCE_UDX_IMPAIRED } from './tables.js';

export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const PALETTE: Record<string, string> = {
  'raw node:dgram': '#7f7f7f',
  'TCP (node:net)': '#1f77b4',
  'udx-native': '#ff7f0e',
  'reliable-dgram': '#2ca02c',
  'udx-native, earlier anchor (§7)': '#ffbb78',
};

/** A colour scale over the contenders actually present, so legends list only what is drawn. */
function colors(values: readonly { contender: string }[]): { domain: string[]; range: string[] } {
  const domain = Object.keys(PALETTE).filter((name) => values.some((v) => v.contender === name));
  return { domain, range: domain.map((name) => PALETTE[name]!) };
}
const LEGEND = { title: null, labelLimit: 320 } as const;

export function goodputVsLossSpec(r: BenchResults): vl.TopLevelSpec | null {
  const impair = r.workloads.impair;
  if (!impair?.available) return null;
  const values: { contender: string; loss: number; mbps: number; min: number; max: number; run: string }[] = [];
  for (const [name, points] of Object.entries(impair.contenders)) {
    for (const p of points) {
      if (p.goodputMBps.n > 0) values.push({ contender: label(name), loss: p.lossPercent, mbps: p.goodputMBps.median, min: p.goodputMBps.min, max: p.goodputMBps.max, run: 'this run' });
    }
  }
  if (values.length === 0) return null;
  for (const loss of impair.lossPercents) {
    const ref = REFERENCE_UDX_IMPAIRED[loss];
    if (ref !== undefined && impair.bytes === 20e6) values.push({ contender: 'udx-native, earlier anchor (§7)', loss, mbps: ref, min: ref, max: ref, run: 'earlier anchor' });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Goodput through the impairment proxy (${impair.bytes / 1e6} MB, ${impair.delayMs} ms one-way delay)`,
    width: 520,
    height: 300,
    data: { values },
    encoding: {
      x: { field: 'loss', type: 'quantitative', title: 'random loss, each direction (%)' },
      color: { field: 'contender', type: 'nominal', scale: colors(values), legend: LEGEND },
    },
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: {
          y: { field: 'mbps', type: 'quantitative', title: 'goodput (MB/s, median; bars: min–max)' },
          strokeDash: { field: 'run', type: 'nominal', scale: { domain: ['this run', 'earlier anchor'], range: [[1, 0], [5, 4]] }, legend: null },
        },
      },
      { mark: { type: 'rule' }, encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
    ],
  };
}

export function latencySpec(r: BenchResults): vl.TopLevelSpec | null {
  const ping = r.workloads.pingpong;
  if (!ping) return null;
  const values: { contender: string; placement: string; percentile: string; order: number; us: number }[] = [];
  for (const [placement, byName] of Object.entries(ping.placements)) {
    for (const [name, c] of Object.entries(byName)) {
      c.distribution.forEach((d, i) => {
        if (Number.isFinite(d.us)) values.push({ contender: label(name), placement, percentile: `p${+(d.q * 100).toFixed(1)}`, order: i, us: d.us });
      });
    }
  }
  if (values.length === 0) return null;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Ping-pong round-trip time, ${ping.size} B (all runs pooled)`,
    data: { values },
    facet: { column: { field: 'placement', type: 'nominal', title: null, sort: ['same-cpu', 'cross-cpu', 'unpinned'] } },
    spec: {
      width: 300,
      height: 260,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'percentile', type: 'ordinal', sort: { field: 'order' }, title: 'percentile' },
        y: { field: 'us', type: 'quantitative', scale: { type: 'log' }, title: 'round trip (µs, log scale)' },
        color: { field: 'contender', type: 'nominal', scale: colors(values), legend: LEGEND },
      },
    },
  };
}

export function bulkSpec(r: BenchResults): vl.TopLevelSpec | null {
  const bulk = r.workloads.bulk;
  if (!bulk) return null;
  const values = Object.entries(bulk.contenders)
    .filter(([, c]) => c.goodputMBps.n > 0)
    .map(([name, c]) => ({ contender: label(name), mbps: c.goodputMBps.median, min: c.goodputMBps.min, max: c.goodputMBps.max }));
  if (values.length === 0) return null;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Bulk goodput, ${bulk.bytes / 1e6} MB one way (median, min–max)`,
    width: 420,
    height: 220,
    data: { values },
    encoding: { y: { field: 'contender', type: 'nominal', sort: null, title: null } },
    layer: [
      {
        mark: 'bar',
        encoding: {
          x: { field: 'mbps', type: 'quantitative', title: 'MB/s (raw dgram: receiver rate, lossy)' },
          color: { field: 'contender', type: 'nominal', scale: colors(values), legend: null },
        },
      },
      { mark: { type: 'rule', color: 'black' }, encoding: { x: { field: 'min', type: 'quantitative' }, x2: { field: 'max' } } },
    ],
  };
}

/** Renders every chart that has data; returns file name → SVG text. */
export async function renderCharts(r: BenchResults): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const specs: [string, vl.TopLevelSpec | null][] = [
    ['bulk-goodput.svg', bulkSpec(r)],
    ['latency-distribution.svg', latencySpec(r)],
    ['goodput-vs-loss.svg', goodputVsLossSpec(r)],
  ];
  for (const [file, spec] of specs) if (spec) out.set(file, await renderSvg(spec));
  return out;
}
