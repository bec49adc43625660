/**
 * Line input and output for the client. On a terminal: a readline prompt with tab completion,
 * and any line printed while the user is typing first clears the prompt line, prints, then
 * redraws the prompt with the half-typed input intact. A password is asked without echo (the
 * echo goes through mute-stream, muted while it is typed) and never enters the Up-arrow
 * history; a `/login <user> <password>` typed in full is masked on screen and dropped from the
 * history too. On a pipe: no prompt, plain lines, so scripts and tests read clean output.
 * Lines are handled one at a time, in order (the session pipelines sends itself). Lines that
 * arrive before `run()` (while connecting) are kept, not lost.
 */
import * as readline from 'node:readline';
import MuteStream from 'mute-stream';
import { carriesPassword, maskPassword } from './commands.js';

export interface TerminalIO {
  readonly interactive: boolean;
  print(line: string): void;
  setPrompt(prompt: string): void;
  /** Redraws the prompt (after setPrompt) unless a command is running. */
  refresh(): void;
  /** Asks for one line without echo (a password); null at end of input. */
  askHidden(prompt: string): Promise<string | null>;
  /** Calls `handle` for each line, awaiting each; resolves at end of input or when it returns false. */
  run(handle: (line: string) => Promise<boolean>): Promise<void>;
  close(): void;
}

export interface TerminalOptions {
  /** Tab completion: [candidates, the word they complete]. */
  complete?: (line: string) => [string[], string];
  /** Called after each key the user types, with the line so far (typing indicator). */
  onInput?: (lineSoFar: string) => void;
}

interface ReadlineWithHistory extends readline.Interface {
  history?: string[];
}

export function createTerminal(input: NodeJS.ReadableStream & { isTTY?: boolean }, output: NodeJS.WriteStream, options: TerminalOptions = {}): TerminalIO {
  const interactive = Boolean(input.isTTY && output.isTTY);
  // readline echoes through this stream: muting it hides what is typed (passwords).
  const echo = new MuteStream();
  echo.pipe(output);
  const completer = options.complete;
  const rl: ReadlineWithHistory = readline.createInterface({
    input,
    output: interactive ? (echo as unknown as NodeJS.WritableStream) : output,
    terminal: interactive,
    ...(interactive && completer ? { completer: (line: string) => completer(line) } : {}),
  });
  const queue: string[] = [];
  let inputEnded = false;
  let wake: (() => void) | null = null;
  let handling = false;
  let prompt = '> ';
  let hiddenAnswer: ((line: string | null) => void) | null = null;

  /** Drops `line` from the Up-arrow history (readline added it just before emitting it). */
  const forget = (line: string): void => {
    const history = rl.history;
    if (history && history[0] === line) history.shift();
  };

  rl.on('line', (line) => {
    if (hiddenAnswer) {
      forget(line);
      const answer = hiddenAnswer;
      hiddenAnswer = null;
      answer(line);
      return;
    }
    if (carriesPassword(line)) {
      forget(line);
      if (interactive) {
        // Rewrite the line just entered, with the password masked.
        readline.moveCursor(output, 0, -1);
        readline.clearLine(output, 0);
        readline.cursorTo(output, 0);
        output.write(prompt + maskPassword(line) + '\n');
      }
    }
    queue.push(line);
    wake?.();
  });
  rl.on('close', () => {
    inputEnded = true;
    hiddenAnswer?.(null);
    hiddenAnswer = null;
    wake?.();
  });
  if (interactive && options.onInput) {
    const onInput = options.onInput;
    input.on('keypress', () => {
      // readline updates `line` after the keypress listeners: look once it has.
      setImmediate(() => {
        if (!hiddenAnswer) onInput(rl.line);
      });
    });
  }

  let running = false;
  const showPrompt = (): void => {
    if (!interactive || inputEnded || hiddenAnswer || !running) return;
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
    if (hiddenAnswer) output.write(hiddenPrompt);
    else if (!handling) showPrompt();
  };

  let hiddenPrompt = '';
  const askHidden = (question: string): Promise<string | null> => {
    // A line already typed or pasted (or piped) is the answer.
    const queued = queue.shift();
    if (queued !== undefined) {
      forget(queued);
      return Promise.resolve(queued);
    }
    if (inputEnded) return Promise.resolve(null);
    hiddenPrompt = question;
    if (interactive) output.write(question);
    echo.mute();
    return new Promise<string | null>((resolve) => {
      hiddenAnswer = (line) => {
        echo.unmute();
        if (interactive) output.write('\n');
        resolve(line);
      };
    });
  };

  const run = async (handle: (line: string) => Promise<boolean>): Promise<void> => {
    running = true;
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
    interactive,
    print,
    setPrompt: (p) => {
      prompt = p;
    },
    refresh: () => {
      if (!handling) showPrompt();
    },
    askHidden,
    run,
    close: () => rl.close(),
  };
}
