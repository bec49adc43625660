/**
 * Line input and output for the client. On a terminal: a readline prompt, and any line printed
 * while the user is typing first clears the prompt line, prints, then redraws the prompt with the
 * half-typed input intact. On a pipe: no prompt, plain lines, so scripts and tests read clean
 * output. Lines are handled one at a time, in order: a script's `/login` finishes before its
 * `/send` starts. Lines that arrive before `run()` (while connecting) are kept, not lost.
 */
import * as readline from 'node:readline';

export interface TerminalIO {
  print(line: string): void;
  setPrompt(prompt: string): void;
  /** Calls `handle` for each line, awaiting each; resolves at end of input or when it returns false. */
  run(handle: (line: string) => Promise<boolean>): Promise<void>;
  close(): void;
}

export function createTerminal(input: NodeJS.ReadableStream & { isTTY?: boolean }, output: NodeJS.WriteStream): TerminalIO {
  const interactive = Boolean(input.isTTY && output.isTTY);
  const rl = readline.createInterface({ input, output, terminal: interactive });
  const queue: string[] = [];
  let inputEnded = false;
  let wake: (() => void) | null = null;
  let handling = false;
  let prompt = '> ';

  rl.on('line', (line) => {
    queue.push(line);
    wake?.();
  });
  rl.on('close', () => {
    inputEnded = true;
    wake?.();
  });

  const showPrompt = (): void => {
    if (!interactive || inputEnded) return;
    rl.setPrompt(prompt);
    rl.prompt(true);
  };

  const print = (line: string): void => {
    if (!interactive) {
      output.write(line + '\n');
      return;
    }
    readline.clearLine(output, 0);
    readline.cursorTo(output, 0);
    output.write(line + '\n');
    // Redraw the prompt and whatever the user had typed so far, cursor where it was.
    if (!handling) showPrompt();
  };

  const run = async (handle: (line: string) => Promise<boolean>): Promise<void> => {
    showPrompt();
    for (;;) {
      const line = queue.shift();
      if (line === undefined) {
        if (inputEnded) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        continue;
      }
      handling = true;
      const keepGoing = await handle(line);
      handling = false;
      if (!keepGoing) {
        rl.close();
        return;
      }
      if (queue.length === 0) showPrompt();
    }
  };

  return {
    print,
    setPrompt: (p) => {
      prompt = p;
    },
    run,
    close: () => rl.close(),
  };
}
