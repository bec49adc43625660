/**
 * Workload 4, many connections: `count` clients spread over two client processes (so that with
 * the server no more than three run at once), all connecting to one server endpoint, each
 * exchanging one 64-byte message. Reports the time to establish all (first attempt to last echo)
 * and the server's heap growth per connection once they sit idle (measured after a full GC).
 * Raw dgram has no connections and does not take part.
 */
import type { ManyClientResult, ManyServerResult } from '../contenders/types.js';
import type { ContenderName } from '../contenders/index.js';
import { BenchChild, SkipError } from '../lib/spawn.js';
import { progress } from '../lib/progress.js';
import { spread, type Spread } from '../lib/stats.js';
import { HOST, markUnavailable, note, rotation, runTimeout, withinBudget, type BenchContext } from './context.js';

const CLIENT_PROCESSES = 2;
const CONCURRENCY = 256;

export interface ManySample {
  established: number;
  failed: number;
  establishMs: number;
  heapBytesPerConnection: number;
  rssBytesPerConnection: number;
}

export interface ManyContenderResult {
  samples: ManySample[];
  establishMs: Spread;
  heapBytesPerConnection: Spread;
  rssBytesPerConnection: Spread;
  errors: string[];
}

export interface ManyResult {
  count: number;
  clientProcesses: number;
  concurrency: number;
  runs: number;
  contenders: Partial<Record<ContenderName, ManyContenderResult>>;
}

async function oneRun(name: ContenderName, count: number, label: string, timeoutMs: number): Promise<ManySample> {
  const server = new BenchChild(
    { contender: name, role: 'manyServer', options: { host: HOST, expected: count } },
    { timeoutMs, label: `${label} server`, nodeArgs: ['--expose-gc'] },
  );
  const clients: BenchChild[] = [];
  try {
    const { port } = await server.ready;
    const perProcess = Math.ceil(count / CLIENT_PROCESSES);
    for (let i = 0; i < CLIENT_PROCESSES; i++) {
      const share = Math.min(perProcess, count - i * perProcess);
      clients.push(
        new BenchChild(
          { contender: name, role: 'manyClients', options: { host: HOST, port, count: share, concurrency: CONCURRENCY } },
          { timeoutMs, label: `${label} clients ${i + 1}` },
        ),
      );
    }
    const clientResults = (await Promise.all(clients.map((c) => c.result))) as ManyClientResult[];
    const established = clientResults.reduce((a, r) => a + r.established, 0);
    const failed = clientResults.reduce((a, r) => a + r.failed, 0);
    if (established < count) throw new Error(`only ${established} of ${count} connections established (${failed} failed)`);
    const s = (await server.result) as ManyServerResult;
    const startAt = Math.min(...clientResults.map((r) => r.startAt));
    const doneAt = Math.max(...clientResults.map((r) => r.doneAt));
    return {
      established,
      failed,
      establishMs: doneAt - startAt,
      heapBytesPerConnection: (s.heapAfterBytes - s.heapBeforeBytes) / Math.max(1, s.connections),
      rssBytesPerConnection: (s.rssAfterBytes - s.rssBeforeBytes) / Math.max(1, s.connections),
    };
  } finally {
    await Promise.all(clients.map((c) => c.killAndWait()));
    await server.killAndWait();
  }
}

export async function runMany(ctx: BenchContext): Promise<ManyResult> {
  const count = ctx.quick ? 500 : 10_000;
  const runs = ctx.quick ? 1 : 3;
  // Raw dgram has no connections; the encrypted contenders (issue 13) play bulk and ping-pong only.
  const names = ctx.contenders.filter((n) => n !== 'dgram' && n !== 'udx-secret-stream' && n !== 'reliable-dgram-encrypted');
  const samples = new Map<ContenderName, ManySample[]>();
  const errors = new Map<ContenderName, string[]>();
  for (let run = 0; run < runs; run++) {
    for (const name of rotation(names, run)) {
      if (ctx.unavailable.has(name) || !withinBudget(ctx, 'many connections')) continue;
      const label = `many ${count} connections ${name} run ${run + 1}/${runs}`;
      progress(label);
      try {
        const sample = await oneRun(name, count, label, runTimeout(ctx, 120_000));
        samples.set(name, [...(samples.get(name) ?? []), sample]);
      } catch (err) {
        if (err instanceof SkipError) markUnavailable(ctx, name, err.message);
        else {
          errors.set(name, [...(errors.get(name) ?? []), (err as Error).message]);
          note(ctx, `${label} failed: ${(err as Error).message.slice(0, 300)}`);
        }
      }
    }
  }
  const result: ManyResult = { count, clientProcesses: CLIENT_PROCESSES, concurrency: CONCURRENCY, runs, contenders: {} };
  for (const name of names) {
    const list = samples.get(name) ?? [];
    const errs = errors.get(name) ?? [];
    if (list.length === 0 && errs.length === 0) continue;
    result.contenders[name] = {
      samples: list,
      establishMs: spread(list.map((s) => s.establishMs)),
      heapBytesPerConnection: spread(list.map((s) => s.heapBytesPerConnection)),
      rssBytesPerConnection: spread(list.map((s) => s.rssBytesPerConnection)),
      errors: errs,
    };
  }
  return result;
}
