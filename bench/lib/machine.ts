/** A description of the machine, printed beside every published number. */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  v8: string;
  udxNative: string | null;
  loadAverage: number[];
  rmemMaxBytes: number | null;
  /** The commit measured, with "+dirty" when the working tree had changes (optional in old files). */
  commit?: string;
}

function gitCommit(): string | undefined {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return undefined;
  }
}

function readNumber(file: string): number | null {
  try {
    return Number(readFileSync(file, 'utf8').trim());
  } catch {
    return null;
  }
}

function udxVersion(): string | null {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../node_modules/udx-native/package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return null;
  }
}

function kernel(): string {
  try {
    return execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim();
  } catch {
    return `${os.type()} ${os.release()}`;
  }
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  const commit = gitCommit();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: kernel(),
    node: process.version,
    v8: process.versions.v8,
    udxNative: udxVersion(),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    rmemMaxBytes: readNumber('/proc/sys/net/core/rmem_max'),
    ...(commit !== undefined ? { commit } : {}),
  };
}
