/**
 * Summarises V8 CPU profiles (from `run.ts --cpu-prof`): the functions with the most self time.
 *
 *   node --import tsx bench/profile-top.ts bench/results/profiles/CPU.*.cpuprofile [--top 20]
 *
 * Profiles of the main thread of each child are the large ones; tsx's loader thread writes a
 * small second file per process, which this prints too (it is easy to tell apart).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
}

function shortUrl(url: string): string {
  const i = url.indexOf('/node_modules/');
  if (i >= 0) return url.slice(i + 1);
  const src = url.search(/\/(src|bench)\//);
  return src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, '');
}

function summarise(file: string, top: number): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const self = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    total += hits;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'}  ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + hits);
  }
  // Name the role from the harness functions on the stack (child.ts runs exactly one).
  const roles = ['bulkSender', 'bulkReceiver', 'pingClient', 'pingServer', 'manyServer', 'manyClients'];
  const role = roles.find((r) => profile.nodes.some((n) => n.callFrame.functionName === r)) ?? 'role unknown';
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  return [
    `${path.basename(file)} (${role}): ${total} samples over ${seconds.toFixed(2)} s`,
    ...rows.map(([key, hits]) => `  ${((100 * hits) / Math.max(1, total)).toFixed(1).padStart(5)} %  ${key}`),
  ].join('\n');
}

const argv = process.argv.slice(2);
const topAt = argv.indexOf('--top');
const top = topAt >= 0 ? Number(argv[topAt + 1]) : 15;
const files = argv.filter((a, i) => a !== '--top' && i !== topAt + 1);
if (files.length === 0) {
  console.error('usage: node --import tsx bench/profile-top.ts <file.cpuprofile>... [--top N]');
  process.exit(2);
}
for (const file of files) console.log(summarise(file, top) + '\n');
