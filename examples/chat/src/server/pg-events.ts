/**
 * StoreEvents as PostgreSQL NOTIFY payloads (compact JSON on one channel). A payload must stay
 * under 8,000 bytes: a message too large to carry (its text may be 16 KiB) goes as its id only
 * and each node reads the row ("spilled"); traces are split over as many payloads as needed.
 */
import type { StoreEvent, TraceRow } from './chat-store.js';
import type { StoredMessage } from './store.js';

export const CHANNEL = 'chat_events';
/** PostgreSQL refuses payloads of 8,000 bytes or more; stay well below. */
export const MAX_PAYLOAD_BYTES = 7_900;

type Wire =
  | { k: 'm'; g: number; o: string; id: number; gn?: string; s?: number; f?: string; t?: string; at?: number; c?: string; r?: number; mk?: string }
  | { k: 't'; g: number; gn: string; tr: [number, number, string, number, number, number][] }
  | { k: 'a'; g: number; gn: string; u: number; un: string; h: 'c' | 'j'; o: string }
  | { k: 'l'; g: number; u: number }
  | { k: 'i'; u: number; gn: string; b: string; o: string }
  | { k: 'e'; g: number; gn: string; id: number; t?: string; at: number; o: string }
  | { k: 'd'; g: number; gn: string; id: number; o: string }
  | { k: 'y'; g: number; gn: string; u: number; un: string; o: string }
  | { k: 'x'; h: string };

const fits = (payload: string): boolean => Buffer.byteLength(payload) < MAX_PAYLOAD_BYTES;

/** One event as one or more payloads, each under MAX_PAYLOAD_BYTES. */
export function encodeEvent(event: StoreEvent): string[] {
  switch (event.kind) {
    case 'message': {
      const m = event.message;
      const full = JSON.stringify({ k: 'm', g: event.groupId, o: event.origin, id: m.messageId, gn: m.group, s: m.senderId, f: m.from, t: m.text, at: m.sentAt, c: m.clientMsgId, r: m.recipients, mk: m.kind } satisfies Wire);
      if (fits(full)) return [full];
      return [JSON.stringify({ k: 'm', g: event.groupId, o: event.origin, id: m.messageId } satisfies Wire)];
    }
    case 'traces': {
      const payloads: string[] = [];
      let rows: [number, number, string, number, number, number][] = [];
      const flush = (): void => {
        if (rows.length > 0) payloads.push(JSON.stringify({ k: 't', g: event.groupId, gn: event.group, tr: rows } satisfies Wire));
        rows = [];
      };
      // A row is at most ~120 bytes (64-character client id); the header under 100.
      const perPayload = Math.floor((MAX_PAYLOAD_BYTES - 200) / 130);
      for (const t of event.traces) {
        rows.push([t.messageId, t.senderId, t.clientMsgId, t.delivered, t.read, t.recipients]);
        if (rows.length >= perPayload) flush();
      }
      flush();
      return payloads;
    }
    case 'added':
      return [JSON.stringify({ k: 'a', g: event.groupId, gn: event.group, u: event.userId, un: event.user, h: event.how === 'joined' ? 'j' : 'c', o: event.origin } satisfies Wire)];
    case 'left':
      return [JSON.stringify({ k: 'l', g: event.groupId, u: event.userId } satisfies Wire)];
    case 'invited':
      return [JSON.stringify({ k: 'i', u: event.userId, gn: event.group, b: event.by, o: event.origin } satisfies Wire)];
    case 'edited': {
      const full = JSON.stringify({ k: 'e', g: event.groupId, gn: event.group, id: event.messageId, t: event.text, at: event.editedAt, o: event.origin } satisfies Wire);
      return [fits(full) ? full : JSON.stringify({ k: 'e', g: event.groupId, gn: event.group, id: event.messageId, at: event.editedAt, o: event.origin } satisfies Wire)];
    }
    case 'deleted':
      return [JSON.stringify({ k: 'd', g: event.groupId, gn: event.group, id: event.messageId, o: event.origin } satisfies Wire)];
    case 'typing':
      return [JSON.stringify({ k: 'y', g: event.groupId, gn: event.group, u: event.userId, un: event.user, o: event.origin } satisfies Wire)];
    case 'revoked':
      return [JSON.stringify({ k: 'x', h: event.tokenHash.toString('hex') } satisfies Wire)];
  }
}

/**
 * The event a payload carries. `readMessage` fetches a spilled message's row (or an edit's
 * text); it resolves undefined only if the row is gone, and then the event is dropped.
 */
export async function decodeEvent(payload: string, readMessage: (id: number) => Promise<StoredMessage | undefined>): Promise<StoreEvent | undefined> {
  const w = JSON.parse(payload) as Wire;
  switch (w.k) {
    case 'm': {
      if (w.t === undefined) {
        const message = await readMessage(w.id);
        return message && { kind: 'message', groupId: w.g, message, origin: w.o };
      }
      const message: StoredMessage = {
        group: w.gn ?? '',
        messageId: w.id,
        from: w.f ?? '',
        text: w.t,
        sentAt: w.at ?? 0,
        kind: w.mk === 'me' ? 'me' : 'text',
        senderId: w.s ?? 0,
        clientMsgId: w.c ?? '',
        recipients: w.r ?? 0,
      };
      return { kind: 'message', groupId: w.g, message, origin: w.o };
    }
    case 't': {
      const traces: TraceRow[] = w.tr.map(([messageId, senderId, clientMsgId, delivered, read, recipients]) => ({ messageId, senderId, clientMsgId, delivered, read, recipients }));
      return { kind: 'traces', groupId: w.g, group: w.gn, traces };
    }
    case 'a':
      return { kind: 'added', groupId: w.g, group: w.gn, userId: w.u, user: w.un, how: w.h === 'j' ? 'joined' : 'created', origin: w.o };
    case 'l':
      return { kind: 'left', groupId: w.g, userId: w.u };
    case 'i':
      return { kind: 'invited', userId: w.u, group: w.gn, by: w.b, origin: w.o };
    case 'e': {
      const text = w.t ?? (await readMessage(w.id))?.text;
      return text === undefined ? undefined : { kind: 'edited', groupId: w.g, group: w.gn, messageId: w.id, text, editedAt: w.at, origin: w.o };
    }
    case 'd':
      return { kind: 'deleted', groupId: w.g, group: w.gn, messageId: w.id, origin: w.o };
    case 'y':
      return { kind: 'typing', groupId: w.g, group: w.gn, userId: w.u, user: w.un, origin: w.o };
    case 'x':
      return { kind: 'revoked', tokenHash: Buffer.from(w.h, 'hex') };
    default:
      return undefined;
  }
}
