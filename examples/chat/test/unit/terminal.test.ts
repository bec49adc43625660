/**
 * The terminal stays readable: a line printed while the user is typing goes above the prompt,
 * and the prompt comes back with the half-typed input. Driven through fake TTY streams.
 */
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createTerminal } from '../../src/client/terminal.js';

function fakeTty(): { input: PassThrough & { isTTY: boolean }; output: NodeJS.WriteStream; written: () => string } {
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input });
  let text = '';
  const output = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString();
        done();
      },
    }),
    { isTTY: true, columns: 80, rows: 24 },
  ) as unknown as NodeJS.WriteStream;
  return { input, output, written: () => text };
}

/** What the screen's last line shows: the text after the last line feed, escape codes removed. */
const lastLine = (s: string): string => (s.split('\n').at(-1) ?? '').replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

describe('terminal UI', () => {
  it('prints incoming lines above the prompt and redraws what the user was typing', async () => {
    const { input, output, written } = fakeTty();
    const term = createTerminal(input, output);
    const handled: string[] = [];
    const done = term.run(async (line) => {
      handled.push(line);
      return line !== '/quit';
    });
    input.write('I am half-way typ');
    await new Promise((r) => setImmediate(r));
    term.print('[team] bob: hello');
    const screen = written();
    const printed = screen.lastIndexOf('[team] bob: hello');
    expect(printed).toBeGreaterThan(screen.lastIndexOf('\x1b[2K')); // the prompt line was cleared first
    expect(lastLine(screen)).toBe('> I am half-way typ');
    input.write('ing\r');
    input.write('/quit\r');
    await done;
    expect(handled).toEqual(['I am half-way typing', '/quit']);
  });

  it('on a pipe, prints plain lines and keeps lines that arrive before run()', async () => {
    const input = new PassThrough();
    let text = '';
    const output = new Writable({ write(c: Buffer, _e, d) { text += c.toString(); d(); } }) as unknown as NodeJS.WriteStream;
    const term = createTerminal(input, output);
    input.end('/login a b\n/quit\n/never\n');
    await new Promise((r) => setImmediate(r));
    term.print('* connected');
    const handled: string[] = [];
    await term.run(async (line) => {
      handled.push(line);
      return line !== '/quit';
    });
    expect(handled).toEqual(['/login a b', '/quit']);
    expect(text).toBe('* connected\n');
  });
});
