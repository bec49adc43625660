/**
 * Reading qlog files: JSON-SEQ (RFC 7464: records separated by RS, the header first; what
 * `qlogDir` and the test kit write, and what quic-go writes) and, for other stacks' files, the
 * older JSON form `{ traces: [{ events: [...] }] }` with object events. Plain data in, plain
 * data out: no I/O here.
 */

export interface QlogEvent {
  /** ms since the trace's reference time. */
  time: number;
  name: string;
  data: Record<string, unknown>;
}

export interface QlogTrace {
  /** 'client', 'server', or whatever the file said. */
  vantagePoint: string;
  title: string;
  events: QlogEvent[];
}

export class QlogParseError extends Error {}

function asEvent(raw: unknown): QlogEvent | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (typeof r['time'] !== 'number' || typeof r['name'] !== 'string') return null;
  const data = typeof r['data'] === 'object' && r['data'] !== null ? (r['data'] as Record<string, unknown>) : {};
  return { time: r['time'], name: r['name'], data };
}

function vantage(trace: Record<string, unknown> | undefined): string {
  const vp = trace?.['vantage_point'] as Record<string, unknown> | undefined;
  return typeof vp?.['type'] === 'string' ? vp['type'] : 'unknown';
}

/** Parse a qlog file's text. Throws QlogParseError when it is neither form. */
export function parseQlog(text: string): QlogTrace {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('\x1e')) {
    const records = trimmed.split('\x1e').filter((r) => r.trim() !== '');
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(records[0]!) as Record<string, unknown>;
    } catch {
      throw new QlogParseError('the first JSON-SEQ record (the qlog header) is not JSON');
    }
    if (typeof header['qlog_version'] !== 'string') throw new QlogParseError('no qlog_version in the header record');
    const trace = header['trace'] as Record<string, unknown> | undefined;
    const events: QlogEvent[] = [];
    for (let i = 1; i < records.length; i++) {
      let value: unknown;
      try {
        value = JSON.parse(records[i]!);
      } catch {
        // RFC 7464 §2.4: a truncated last record (the writer was killed) is skipped, not fatal.
        if (i === records.length - 1) break;
        throw new QlogParseError(`record ${i + 1} is not JSON`);
      }
      const e = asEvent(value);
      if (e) events.push(e);
    }
    return { vantagePoint: vantage(trace), title: String(trace?.['title'] ?? header['title'] ?? ''), events };
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new QlogParseError('neither JSON-SEQ (records start with 0x1E) nor JSON');
  }
  const traces = doc['traces'];
  if (!Array.isArray(traces) || traces.length === 0) throw new QlogParseError('no traces in the qlog file');
  const trace = traces[0] as Record<string, unknown>;
  const events = (Array.isArray(trace['events']) ? trace['events'] : []).map(asEvent).filter((e): e is QlogEvent => e !== null);
  return { vantagePoint: vantage(trace), title: String(trace['title'] ?? doc['title'] ?? ''), events };
}
