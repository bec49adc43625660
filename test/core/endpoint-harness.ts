/**
 * A tiny virtual-time network for EndpointCore unit tests: endpoints at named addresses, a fixed
 * one-way latency, and a filter that may drop or inspect each datagram. Deterministic: seeded
 * randomness, no real clock.
 */
import { EndpointCore, type EndpointCoreConfig, type EndpointEvent, type Transmit } from '../../src/core/endpoint.js';
import { ConnectionCore } from '../../src/core/connection.js';
import { resolveEndpointOptions } from '../../src/options.js';
import { Rng } from '../../src/testing/rng.js';
import type { CryptoSuite } from '../../src/core/secure/suite.js';

export function seededRandomBytes(seed: number): (n: number) => Uint8Array {
  const rng = new Rng(seed);
  return (n) => rng.bytes(n);
}

export function endpointConfig(overrides: Partial<EndpointCoreConfig> = {}): EndpointCoreConfig {
  return {
    // The endpoint's documented defaults, with the engine pinned to the values these tests assume.
    ...resolveEndpointOptions().endpoint,
    core: { initialRtt: 100, idleTimeout: 30_000, keepAliveInterval: 10_000 },
    ...overrides,
  };
}

export interface Wire {
  from: string;
  fromPort: number;
  to: string;
  toPort: number;
  data: Uint8Array;
  /** Index of this datagram in the order it was sent (across the whole network). */
  seq: number;
}

export interface Node {
  name: string;
  port: number;
  core: EndpointCore;
  events: EndpointEvent[];
}

export class VirtualNet {
  now = 0;
  readonly nodes = new Map<string, Node>();
  private inFlight: { at: number; wire: Wire }[] = [];
  private seq = 0;
  /** Return false to drop the datagram. */
  filter: (w: Wire) => boolean = () => true;
  /** Every datagram sent, before the filter. */
  readonly log: Wire[] = [];

  constructor(readonly latency = 5) {}

  add(name: string, config: EndpointCoreConfig, seed: number, port = 4000, crypto?: CryptoSuite): Node {
    const core = new EndpointCore({
      config,
      randomBytes: seededRandomBytes(seed),
      createConnection: (init) => new ConnectionCore(init),
      ...(crypto ? { crypto } : {}),
      now: this.now,
    });
    const node: Node = { name, port, core, events: [] };
    this.nodes.set(name, node);
    return node;
  }

  /** Inject a datagram as if `from:fromPort` had sent it. */
  inject(from: string, fromPort: number, to: Node, data: Uint8Array): void {
    to.core.handleDatagram(this.now, data, from, fromPort);
  }

  /** Drain every node's transmits into the network and collect their events. */
  flush(): void {
    for (let round = 0; round < 1000; round++) {
      let any = false;
      for (const node of this.nodes.values()) {
        let tx: Transmit | null;
        while ((tx = node.core.pollTransmit(this.now)) !== null) {
          any = true;
          const wire: Wire = { from: node.name, fromPort: node.port, to: tx.address, toPort: tx.port, data: tx.data, seq: this.seq++ };
          this.log.push(wire);
          if (this.filter(wire)) this.inFlight.push({ at: this.now + this.latency, wire });
        }
        let ev: EndpointEvent | null;
        while ((ev = node.core.pollEvent()) !== null) {
          any = true;
          node.events.push(ev);
          this.onEvent(node, ev);
        }
      }
      if (!any) return;
    }
    throw new Error('flush did not settle');
  }

  /** Hook for tests (e.g. release credit, echo). */
  onEvent: (node: Node, ev: EndpointEvent) => void = (node, ev) => {
    // Give receive credit back at once, like an application that reads every message.
    if (ev.type === 'connection-event' && ev.event.type === 'message' && ev.event.credit > 0) {
      ev.connection.core.release(ev.event.credit, ev.event.delivery);
      node.core.touch(ev.connection);
    }
  };

  /** Advance virtual time, delivering datagrams and firing deadlines, until `until` or `stop()`. */
  run(until: number, stop: () => boolean = () => false): void {
    this.flush();
    for (let steps = 0; steps < 1_000_000; steps++) {
      if (stop()) return;
      let next = Infinity;
      for (const f of this.inFlight) next = Math.min(next, f.at);
      for (const node of this.nodes.values()) {
        const t = node.core.pollTimeout();
        if (t !== null) next = Math.min(next, t);
      }
      if (next > until) {
        this.now = until;
        return;
      }
      this.now = Math.max(this.now, next);
      const due = this.inFlight.filter((f) => f.at <= this.now);
      this.inFlight = this.inFlight.filter((f) => f.at > this.now);
      for (const { wire } of due) {
        const node = this.nodes.get(wire.to);
        // A copy, as a network delivers: the receiver may use the bytes it gets (packet
        // protection opens a datagram in place), the log keeps what was on the wire.
        if (node && node.port === wire.toPort) node.core.handleDatagram(this.now, Uint8Array.from(wire.data), wire.from, wire.fromPort);
      }
      for (const node of this.nodes.values()) {
        const t = node.core.pollTimeout();
        if (t !== null && t <= this.now) node.core.handleTimeout(this.now);
      }
      this.flush();
    }
    throw new Error('run did not finish');
  }
}
