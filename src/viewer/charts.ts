import type { Analysis, Point } from './analyze.js';

/**
 * The viewer's charts as vega-lite specs, rendered to SVG headless by vega (as the benchmark's
 * charts are, bench/lib/charts.ts). vega and vega-lite are optional peer dependencies of the
 * package: only this viewer needs them, so they are loaded on demand and the library itself
 * keeps its one runtime dependency. `loadRenderer()` says how to install them when missing.
 */

type Spec = Record<string, unknown>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
const WIDTH = 640;
const HEIGHT = 280;

const SEQUENCE_COLORS = { domain: ['sent', 'acknowledged', 'retransmitted', 'lost'], range: ['#1f77b4', '#2ca02c', '#ff7f0e', '#d62728'] };

function lineChart(
  title: string,
  values: Point[],
  yTitle: string,
  colors?: { domain: string[]; range: string[] },
  dashed: string[] = [],
): Spec {
  const mark = { type: 'line', interpolate: 'step-after', strokeWidth: 1.5 };
  const isDashed = dashed.map((s) => `datum.series === ${JSON.stringify(s)}`).join(' || ');
  const marks =
    dashed.length === 0
      ? { mark }
      : {
          layer: [
            { transform: [{ filter: `!(${isDashed})` }], mark },
            { transform: [{ filter: isDashed }], mark: { ...mark, strokeDash: [5, 3], strokeWidth: 2 } },
          ],
        };
  return {
    $schema: SCHEMA,
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    ...marks,
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'time (s)' },
      y: { field: 'value', type: 'quantitative', title: yTitle },
      color: { field: 'series', type: 'nominal', title: null, ...(colors ? { scale: colors } : {}) },
    },
  };
}

/** Bytes sent for the first time, acknowledged, retransmitted and lost, cumulative (a Stevens-style graph). */
export function timeSequenceSpec(a: Analysis, title: string): Spec | null {
  if (a.timeSequence.length === 0) return null;
  // Lost and retransmitted bytes nearly coincide (what is lost is sent again): lost is dashed.
  return lineChart(`Time sequence: ${title}`, a.timeSequence, 'cumulative data (MB)', SEQUENCE_COLORS, ['lost']);
}

/** Congestion window and bytes in flight (top), pacing rate (bottom). */
export function congestionSpec(a: Analysis, title: string): Spec | null {
  if (a.window.length === 0) return null;
  const top = lineChart(`Congestion: ${title}`, a.window, 'kB', {
    domain: ['congestion window', 'bytes in flight'],
    range: ['#9467bd', '#17becf'],
  });
  delete top['$schema'];
  if (a.pacing.length === 0) return { $schema: SCHEMA, ...top };
  const bottom = lineChart('Pacing rate', a.pacing, 'Mbit/s', { domain: ['pacing rate'], range: ['#8c564b'] });
  delete bottom['$schema'];
  return { $schema: SCHEMA, vconcat: [top, { ...bottom, height: 160 }], resolve: { scale: { color: 'independent' } } };
}

/** RTT samples as points, smoothed and min RTT as lines. */
export function rttSpec(a: Analysis, title: string): Spec | null {
  if (a.rtt.length === 0) return null;
  const colors = { domain: ['latest (sample)', 'smoothed', 'min'], range: ['#555555', '#1f77b4', '#2ca02c'] };
  const color = { field: 'series', type: 'nominal', title: null, scale: colors };
  return {
    $schema: SCHEMA,
    title: `RTT: ${title}`,
    width: WIDTH,
    height: HEIGHT,
    data: { values: a.rtt },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'time (s)' },
      y: { field: 'value', type: 'quantitative', title: 'RTT (ms)' },
      color,
    },
    layer: [
      { transform: [{ filter: "datum.series !== 'latest (sample)'" }], mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1 } },
      { transform: [{ filter: "datum.series === 'latest (sample)'" }], mark: { type: 'point', size: 8, filled: true, opacity: 0.5 } },
    ],
  };
}

export type Renderer = (spec: Spec) => Promise<string>;

export class MissingRendererError extends Error {}

/** vega + vega-lite, imported on demand; throws MissingRendererError with install advice. */
export async function loadRenderer(): Promise<Renderer> {
  let vega: typeof import('vega');
  let vl: typeof import('vega-lite');
  try {
    vega = await import('vega');
    vl = await import('vega-lite');
  } catch {
    throw new MissingRendererError(
      'drawing charts needs the optional peer dependencies vega and vega-lite: npm install --save-dev vega vega-lite (or pass --no-charts)',
    );
  }
  return async (spec) => {
    const view = new vega.View(vega.parse(vl.compile(spec as never).spec), { renderer: 'none' });
    try {
      return await view.toSVG();
    } finally {
      view.finalize();
    }
  };
}
