/**
 * The one mapping from a stored message row to a StoredMessage, shared by both stores (SQLite
 * and PostgreSQL select the same columns under the same names).
 */
import type { StoredMessage } from './store.js';

export interface MessageRow {
  id: number;
  group_name: string;
  sender_id: number;
  sender_name: string;
  client_msg_id: string;
  text: string;
  sent_at: number;
  recipients: number;
  kind: string;
  edited_at: number | null;
  deleted_at: number | null;
}

export const MESSAGE_COLUMNS = `m.id, g.name AS group_name, m.sender_id, u.name AS sender_name,
  m.client_msg_id, m.text, m.sent_at, m.recipients, m.kind, m.edited_at, m.deleted_at
  FROM messages m JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.sender_id`;

export function toMessage(row: MessageRow): StoredMessage {
  const message: StoredMessage = {
    group: row.group_name,
    messageId: row.id,
    from: row.sender_name,
    text: row.text,
    sentAt: row.sent_at,
    kind: row.kind === 'me' ? 'me' : 'text',
    senderId: row.sender_id,
    clientMsgId: row.client_msg_id,
    recipients: row.recipients,
  };
  if (row.edited_at !== null) message.editedAt = row.edited_at;
  if (row.deleted_at !== null) message.deleted = true;
  return message;
}
