import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { killChild, spawnPlainNode } from '../lib/spawn.js';

/** Whether a pid runs (a zombie, which PID 1 may leave unreaped here, counts as gone). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ...": the state after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

describe('killChild', () => {
  it("ends a plain node child's own children too (vitest's workers), not the child alone", async () => {
    // The child starts a grandchild that would run for a minute, prints its pid, and waits.
    const script =
      "const c = require('node:child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });" +
      "console.log(c.pid); setTimeout(() => {}, 60000);";
    const child = spawnPlainNode(['-e', script], {});
    const grandchild = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
      child.once('exit', () => reject(new Error('the child ended before it printed its child')));
    });
    expect(running(grandchild)).toBe(true);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killChild(child, 'SIGKILL');
    await exited;
    // Bounded: a SIGKILL to the group is delivered at once; 5 s of 50 ms polls is ample.
    for (let i = 0; i < 100 && running(grandchild); i++) await new Promise((r) => setTimeout(r, 50));
    const left = running(grandchild);
    if (left) process.kill(grandchild, 'SIGKILL');
    expect(left).toBe(false);
  });
});
