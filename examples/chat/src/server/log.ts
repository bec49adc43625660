/**
 * One line per significant event: `<ISO time> <event> key=value ...`. Values are quoted when they
 * contain spaces or quotes, and control characters are escaped, so a hostile user name cannot
 * forge log lines. Never pass a password or a token here.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;
export type Logger = (event: string, fields?: LogFields) => void;

function formatValue(value: string | number | boolean): string {
  const s = String(value);
  if (/^[\w.:@/-]*$/.test(s) && s.length > 0) return s;
  return JSON.stringify(s);
}

export function formatLogLine(now: Date, event: string, fields: LogFields = {}): string {
  const parts = [now.toISOString(), event];
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) parts.push(`${key}=${formatValue(value)}`);
  }
  return parts.join(' ');
}

export function streamLogger(write: (line: string) => void, now: () => number = Date.now): Logger {
  return (event, fields) => write(formatLogLine(new Date(now()), event, fields) + '\n');
}

export const silentLogger: Logger = () => {};
