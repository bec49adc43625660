/**
 * Every line the client prints, in one place: the README transcript and the end-to-end tests
 * rely on these shapes.
 */
import type { ChatMessage, GroupSummary, MemberPresence } from '../protocol/messages.js';

export const formatIncoming = (m: ChatMessage): string => `[${m.group}] ${m.from}: ${m.text}`;

export const formatHistoryLine = (m: ChatMessage): string => `#${m.messageId} [${m.group}] ${m.from}: ${m.text}`;

export function formatGroup(g: GroupSummary): string {
  return `${g.name} (${g.members} member${g.members === 1 ? '' : 's'}, ${g.unread} unread)`;
}

export function formatWho(group: string, members: MemberPresence[]): string {
  return `${group}: ${members.map((m) => `${m.user}${m.online ? ' (online)' : ''}`).join(', ')}`;
}

export function formatStored(group: string, messageId: number, recipients: number, duplicate: boolean): string {
  const note = recipients === 0 ? ' (no other members)' : '';
  return `stored #${messageId} in ${group}${duplicate ? ' (already stored)' : ''}${note}`;
}

export const formatDelivered = (messageId: number, delivered: number, recipients: number): string =>
  `#${messageId} delivered to ${delivered} of ${recipients}`;

export function formatError(code: string, message: string, retryAfterMs?: number): string {
  const retry = retryAfterMs === undefined ? '' : ` (retry in ${Math.ceil(retryAfterMs / 1000)} s)`;
  return `error: ${message}${retry} [${code}]`;
}
