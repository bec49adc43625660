/**
 * Line input and output for the client. On a terminal: a readline prompt, and any line printed
 * while the user is typing first clears the prompt line, prints, then redraws the prompt with the
 * half-typed input intact. On a pipe: no prompt, plain lines, so scripts and tests read clean
 * output. Lines are handled one at a time, in order: a script's `/login` finishes before its
 * `/send` starts.
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
  let prompt = '> ';
  let busy = false;

  const print = (line: string): void => {
    if (!interactive) {
      output.write(line + '\n');
      return;
    }
    readline.clearLine(output, 0);
    readline.cursorTo(output, 0);
    output.write(line + '\n');
    // Redraw prompt and whatever the user had typed, cursor where it was.
    if (!busy) rl.prompt(true);
  };

  const run = (handle: (line: string) => Promise<boolean>): Promise<void> =>
    new Promise((resolve) => {
      const queue: string[] = [];
      let draining = false;
      let ended = false;
      const finish = (): void => {
        rl.close();
        resolve();
      };
      const drain = async (): Promise<void> => {
        if (draining) return;
        draining = true;
        while (queue.length > 0) {
          busy = true;
          const keepGoing = await handle(queue.shift() ?? '');
          busy = false;
          if (!keepGoing) {
            ended = true;
            queue.length = 0;
            finish();
            return;
          }
        }
        draining = false;
        if (ended) finish();
        else if (interactive) {
          rl.setPrompt(prompt);
          rl.prompt(true);
        }
      };
      rl.on('line', (line) => {
        queue.push(line);
        void drain();
      });
      rl.on('close', () => {
        if (ended) return;
        ended = true;
        if (!draining) resolve();
      });
      if (interactive) {
        rl.setPrompt(prompt);
        rl.prompt();
      }
    });

  return {
    print,
    setPrompt: (p) => {
      prompt = p;
    },
    run,
    close: () => rl.close(),
  };
}
