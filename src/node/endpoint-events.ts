/**
 * What the engine reports, handed on: a connection's events to its Connection (every message is
 * one), and the endpoint's own: an accepted connection wrapped and emitted as 'connection', a
 * connect() in progress (`pending`) resolved with its Connection or rejected. Each may change
 * whether the socket follows its one peer (endpoint.ts `reconsiderPeer`).
 */
import { rdError } from '../errors.js';
import type { EndpointConnection, EndpointEvent } from '../core/endpoint.js';
import type { ChannelEntry } from './channel-options.js';
import { Connection } from './connection.js';
import type { EndpointShellParts } from './endpoint-parts.js';

/** Apply validated `channels` entries to a connection about to be handed over. */
function applyChannels(conn: Connection, channels: readonly ChannelEntry[]): void {
  for (let i = 0; i < channels.length; i++) conn.setChannel(channels[i]![0], channels[i]![1]);
}

/**
 * A connection's event here (every message is one), the endpoint's own in dispatchEndpointEvent:
 * V8 marks a function for TurboFan after 3 + bytecode length / 150 of its own ticks, so the
 * per-message part alone is compiled (and inlined into its caller) thousands of trips sooner
 * than with the rare cases beside it (bench/tierup.ts, issue 11).
 */
export function dispatch(ep: EndpointShellParts, ev: EndpointEvent): void {
  if (ev.type !== 'connection-event') return dispatchEndpointEvent(ep, ev);
  // The core's reused record (nextEvent): read before a listener can make the core poll again.
  const event = ev.event;
  const record = ev.connection;
  const conn = record.owner as Connection | undefined;
  conn?.handleCoreEvent(event);
  if (event.type === 'closed' || event.type === 'path-changed') {
    ep.peer.clearHint();
    ep.reconsiderPeer(event.type === 'closed' ? record : undefined);
  }
}

function dispatchEndpointEvent(ep: EndpointShellParts, ev: Exclude<EndpointEvent, { type: 'connection-event' }>): void {
  switch (ev.type) {
    case 'accepted': {
      const conn = wrap(ep, ev.connection);
      applyChannels(conn, ep.options.channels);
      ep.emit('connection', conn);
      return;
    }
    case 'connected': {
      const conn = wrap(ep, ev.connection);
      const p = ep.pending.get(ev.attempt);
      ep.pending.delete(ev.attempt);
      if (p) {
        p.cleanup();
        applyChannels(conn, ep.options.channels);
        applyChannels(conn, p.channels);
        p.resolve(conn);
      } else {
        conn.destroy();
      }
      // Another connection to the server the socket already follows changes nothing
      // reconsiderPeer() weighs: no walk over every connection (n connects in a row: O(n²)).
      const r = ev.connection;
      if (!(r.role === 'client' && ep.core.pendingConnectCount === 0 && ep.peer.isConnectedTo(r.address, r.port))) ep.reconsiderPeer();
      return;
    }
    case 'connect-failed': {
      const p = ep.pending.get(ev.attempt);
      ep.pending.delete(ev.attempt);
      if (p) {
        p.cleanup();
        p.reject(rdError(ev.error.code, ev.error.message));
      }
      ep.reconsiderPeer();
      return;
    }
  }
}

function wrap(ep: EndpointShellParts, record: EndpointConnection): Connection {
  const conn = new Connection(ep.host, record);
  record.owner = conn;
  ep.liveCount++;
  return conn;
}
