/**
 * Heap per idle connection, quick and with a per-class breakdown (issue 11 part 4). The same
 * measurement as the `many` workload (bench/workloads/many.ts), at a smaller count and with one
 * side in this process so that a heap snapshot can say which objects each idle connection keeps:
 *
 *   node --expose-gc --import tsx bench/idle-heap.ts [--count 3000] [--contender reliable-dgram]
 *        [--side server|client] [--classes] [--top 40]
 *
 * --side server (default): this process plays the contender's `manyServer` role, two child
 *   processes play `manyClients` (count/2 each), as in the full workload.
 * --side client: a child plays `manyServer`, this process plays `manyClients` for all `count`
 *   connections and measures its own heap growth the same way (full GC before and after).
 * --classes: heap snapshots before and after; prints what grew, per connection, by class (JS
 *   objects by constructor, backing stores and boxed numbers by the class and field holding them).
 * --contender: reliable-dgram, reliable-dgram-encrypted or udx (udx has no client side here).
 * IDLE_HEAP_DEBUG=<text>: with --classes, print the chain of first retainers of the largest
 *   object (in the second snapshot) whose label contains <text>, to find who holds it.
 */
import v8 from 'node:v8';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadContender } from './contenders/index.js';
import type { ManyClientResult, ManyServerResult } from './contenders/types.js';
import { BenchChild } from './lib/spawn.js';
import { settledHeapBytes } from './lib/measure.js';

const HOST = '127.0.0.1';
const CONCURRENCY = 256;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}
const count = Number(arg('count', '3000'));
const contenderName = arg('contender', 'reliable-dgram');
const side = arg('side', 'server');
const classes = process.argv.includes('--classes');
const top = Number(arg('top', '40'));

type Histogram = Map<string, { count: number; bytes: number }>;
let phase = 0;

/** Writes a heap snapshot to a file (parsed later, so that nothing of this tool is on the heap meanwhile). */
function writeSnapshot(): string {
  const file = path.join(os.tmpdir(), `idle-heap-${process.pid}-${Date.now()}.heapsnapshot`);
  v8.writeHeapSnapshot(file);
  return file;
}

/** Folds a heap snapshot into a histogram: key → (objects, self bytes). */
function snapshotHistogram(file: string): Histogram {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
    nodes: number[];
    edges: number[];
    strings: string[];
  };
  rmSync(file);
  const meta = snap.snapshot.meta;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const nType = meta.node_fields.indexOf('type');
  const nName = meta.node_fields.indexOf('name');
  const nSize = meta.node_fields.indexOf('self_size');
  const nEdges = meta.node_fields.indexOf('edge_count');
  const eType = meta.edge_fields.indexOf('type');
  const eName = meta.edge_fields.indexOf('name_or_index');
  const eTo = meta.edge_fields.indexOf('to_node');
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges, strings } = snap;
  const nodeCount = nodes.length / nf;
  const typeOf = (n: number): string => nodeTypes[nodes[n * nf + nType]!]!;
  const nameOf = (n: number): string => strings[nodes[n * nf + nName]!]!;
  /** Generic holders (plain objects, arrays, maps, closures, contexts, backing stores) are named by who holds them. */
  const GENERIC = new Set(['Object', 'Array', 'Map', 'Set', 'system / Context', 'Uint8Array', 'ArrayBuffer', 'Buffer']);
  const isGeneric = (n: number): boolean => typeOf(n) !== 'object' || GENERIC.has(nameOf(n));
  // First retainer of every node (snapshot order is breadth-first from the roots).
  const parent = new Int32Array(nodeCount).fill(-1);
  const via = new Array<string>(nodeCount);
  let e = 0;
  for (let n = 0; n < nodeCount; n++) {
    const edgeCount = nodes[n * nf + nEdges]!;
    for (let k = 0; k < edgeCount; k++, e += ef) {
      const et = edgeTypes[edges[e + eType]!]!;
      if (et === 'weak' || et === 'shortcut') continue;
      const to = edges[e + eTo]! / nf;
      if (parent[to] !== -1 || to === n) continue;
      parent[to] = n;
      via[to] = et === 'element' ? '[]' : et === 'hidden' ? '(h)' : String(strings[edges[e + eName]!] ?? edges[e + eName]);
    }
  }
  const label = (n: number): string => {
    const type = typeOf(n);
    return type === 'object' ? nameOf(n) : type === 'closure' ? `closure ${nameOf(n) || '(anon)'}` : `(${type}${type === 'array' || type === 'hidden' ? ' ' + nameOf(n) : ''})`;
  };
  const debug = process.env.IDLE_HEAP_DEBUG;
  if (debug !== undefined && phase++ > 0) {
    // The largest node whose label contains IDLE_HEAP_DEBUG, with its chain of first retainers.
    let best = -1;
    for (let n = 0; n < nodeCount; n++) {
      if (label(n).includes(debug) && (best < 0 || nodes[n * nf + nSize]! > nodes[best * nf + nSize]!)) best = n;
    }
    for (let m = best, depth = 0; m !== -1 && depth < 14; m = parent[m]!, depth++) {
      console.log(`  ${label(m)} "${nameOf(m).slice(0, 60)}" self ${nodes[m * nf + nSize]} via ${via[m]}`);
    }
  }
  const hist: Histogram = new Map();
  for (let n = 0; n < nodeCount; n++) {
    let key = label(n);
    if (isGeneric(n)) {
      let path = '';
      let m = n;
      for (let depth = 0; depth < 6 && parent[m] !== -1; depth++) {
        path = `.${via[m]}${path}`;
        m = parent[m]!;
        if (!isGeneric(m)) break;
      }
      key = `${key} in ${label(m)}${path}`;
    }
    const slot = hist.get(key) ?? { count: 0, bytes: 0 };
    slot.count += 1;
    slot.bytes += nodes[n * nf + nSize]!;
    hist.set(key, slot);
  }
  return hist;
}

function printGrowth(before: Histogram, after: Histogram, connections: number): void {
  const rows: { key: string; count: number; bytes: number }[] = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    const bytes = (a.bytes - b.bytes) / connections;
    if (Math.abs(bytes) >= 1) rows.push({ key, count: (a.count - b.count) / connections, bytes });
  }
  rows.sort((x, y) => y.bytes - x.bytes);
  const total = rows.reduce((s, r) => s + r.bytes, 0);
  console.log(`\nper connection, by class (self sizes; ${rows.length} rows ≥ 1 B, total ${total.toFixed(0)} B):`);
  console.log('   bytes  objects  class');
  for (const r of rows.slice(0, top)) {
    console.log(`${r.bytes.toFixed(0).padStart(8)} ${r.count.toFixed(2).padStart(8)}  ${r.key}`);
  }
}

async function main(): Promise<void> {
  if ((globalThis as { gc?: unknown }).gc === undefined) throw new Error('run with node --expose-gc');
  const loaded = await loadContender(contenderName);
  if (!loaded.ok) throw new Error(loaded.reason);
  const contender = loaded.contender;
  const children: BenchChild[] = [];
  try {
    if (side === 'server') {
      const before = classes ? writeSnapshot() : undefined;
      const result = (await contender.manyServer!({ host: HOST, expected: count }, ({ port }) => {
        const perProcess = Math.ceil(count / 2);
        for (let i = 0; i < 2; i++) {
          const share = Math.min(perProcess, count - i * perProcess);
          children.push(
            new BenchChild(
              { contender: contenderName as never, role: 'manyClients', options: { host: HOST, port, count: share, concurrency: CONCURRENCY } },
              { timeoutMs: 120_000, label: `clients ${i + 1}` },
            ),
          );
        }
      })) as ManyServerResult;
      const clientResults = (await Promise.all(children.map((c) => c.result))) as ManyClientResult[];
      const established = clientResults.reduce((a, r) => a + r.established, 0);
      const perConn = (result.heapAfterBytes - result.heapBeforeBytes) / Math.max(1, result.connections);
      console.log(
        `${contenderName} server side: ${result.connections} connections (${established} established), ` +
          `heap ${perConn.toFixed(0)} B per idle connection, rss ${((result.rssAfterBytes - result.rssBeforeBytes) / result.connections).toFixed(0)} B`,
      );
      if (before) {
        const after = writeSnapshot();
        printGrowth(snapshotHistogram(before), snapshotHistogram(after), result.connections);
      }
    } else {
      const server = new BenchChild(
        { contender: contenderName as never, role: 'manyServer', options: { host: HOST, expected: count } },
        { timeoutMs: 120_000, label: 'server', nodeArgs: ['--expose-gc'] },
      );
      children.push(server);
      const { port } = await server.ready;
      const before = classes ? writeSnapshot() : undefined;
      const heapBefore = settledHeapBytes();
      const r = await contender.manyClients!({ host: HOST, port, count, concurrency: CONCURRENCY });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const heapAfter = settledHeapBytes();
      console.log(
        `${contenderName} client side: ${r.established} connections (${r.failed} failed), ` +
          `heap ${((heapAfter - heapBefore) / Math.max(1, r.established)).toFixed(0)} B per idle connection`,
      );
      if (before) {
        const after = writeSnapshot();
        printGrowth(snapshotHistogram(before), snapshotHistogram(after), r.established);
      }
    }
  } finally {
    await Promise.all(children.map((c) => c.killAndWait()));
  }
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
