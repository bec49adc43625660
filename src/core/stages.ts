import { BlockedTime } from './blocked-time.js';
import { AckScheduler } from './ack-scheduler.js';
import { announcedMaxMessageSize, resolveCoreConfig } from './config.js';
import { createCounters, type Counters } from './counters.js';
import { ownValues } from './dormant.js';
import { Deque } from './deque.js';
import { LossRecovery } from './loss-recovery.js';
import { PacketBuilder } from './packet-builder.js';
import { PathMtu, type PathMtuListener } from './path-mtu.js';
import { PathManager } from './path-manager.js';
import { Receiver } from './receiver.js';
import { SendScheduler } from './send-scheduler.js';
import type { Tracer } from './trace.js';
import type { ConnectionId } from '../wire/types.js';
import type { CoreConfig, CoreEvent } from './types.js';

/**
 * A connection's stages, built and wired to each other (connection.ts holds them, one field
 * each): for a new connection, again with canonical numbers for the dormant form (dormant.ts
 * records what differs from such a build), and once as the shared stand-ins that dormant
 * connections' stage fields point at.
 */

/** What `buildStages` needs besides the shared config, tracer, event queue and connection. */
export interface StageInit {
  now: number;
  ceiling: number;
  localTsn: number;
  peerWindow: number;
  localPn: number;
  remoteTsn: number;
  localWindow: number;
  localMaxDatagram: number;
  localMaxMessage: number;
  remotePn: number;
  address: string | undefined;
  port: number;
  randomBytes: ((n: number) => Uint8Array) | null;
  packetOverhead: number;
  /** A rebuild for the dormant form: no random draw (its values are all overwritten anyway). */
  canonical: boolean;
}

/** A connection's stages, as `buildStages` makes them. */
export interface Stages {
  counters: Counters;
  blocked: BlockedTime;
  mtu: PathMtu;
  sender: SendScheduler;
  recovery: LossRecovery;
  receiver: Receiver;
  acks: AckScheduler;
  builder: PacketBuilder;
  path: PathManager;
}

/**
 * The stages of one connection, wired to each other: for the constructor, and again (with
 * canonical numbers, dormant.ts fixes every field that differs) for the dormant form.
 */
export function buildStages(
  listener: PathMtuListener,
  config: CoreConfig,
  trace: Tracer | null,
  events: Deque<CoreEvent>,
  remoteCid: ConnectionId,
  init: StageInit,
): Stages {
  const counters = createCounters();
  const blocked = new BlockedTime(init.now);
  const mtu = new PathMtu(init.ceiling, trace);
  const sender = new SendScheduler(mtu, init.localTsn, init.peerWindow, events, counters);
  // A rebuild (canonical: the dormant form) draws no random number: the connection's sequence of draws stays as it was.
  const recovery = new LossRecovery(config, mtu, init.localPn, init.now, sender, counters, trace, init.canonical ? 0 : undefined);
  const receiver = new Receiver(config, init.remoteTsn, init.localWindow, init.localMaxDatagram, init.localMaxMessage, events, counters);
  const acks = new AckScheduler(config, init.remotePn, receiver, recovery.rtt);
  const builder = new PacketBuilder(remoteCid, mtu, recovery, acks, sender, counters, config.sealed, trace);
  mtu.onChange = listener;
  const path = new PathManager(
    init.address,
    init.port,
    init.randomBytes,
    config,
    recovery,
    mtu,
    acks,
    builder,
    events,
    counters,
    trace,
    init.packetOverhead,
  );
  return { counters, blocked, mtu, sender, recovery, receiver, acks, builder, path };
}

/** The stages as one list, in the order dormant.ts walks them. */
export function stageList(s: Stages): object[] {
  return [s.counters, s.blocked, s.mtu, s.sender, s.recovery, s.receiver, s.acks, s.builder, s.path];
}

/** Fixed stage numbers for canonical builds (the dormant form's templates). */
export function canonicalInit(config: CoreConfig, localMaxDatagram: number, randomBytes: ((n: number) => Uint8Array) | null): StageInit {
  return {
    now: 0,
    ceiling: config.maxDatagramSize,
    localTsn: 0,
    peerWindow: 1,
    localPn: 0,
    remoteTsn: 0,
    localWindow: 1,
    localMaxDatagram,
    localMaxMessage: announcedMaxMessageSize(config),
    remotePn: 0,
    address: undefined,
    port: 0,
    randomBytes,
    packetOverhead: 0,
    canonical: true,
  };
}

/** What dormant connections' stage fields point at: one set for all, never used (every input wakes the connection first). */
let standIns: Stages | null = null;

function buildStandIns(): Stages {
  const config = resolveCoreConfig(undefined);
  const listener: PathMtuListener = { pathMtuChanged: () => undefined };
  return buildStages(listener, config, null, new Deque<CoreEvent>(0), 0n, canonicalInit(config, config.maxDatagramSize, null));
}

/** The shared stand-ins, built at the first connection that goes dormant. */
export function sharedStandIns(): Stages {
  return (standIns ??= buildStandIns());
}

let standInsReference: { other: object[]; pristine: string[] } | null = null;

/**
 * @internal For tests: has anything written into the shared stand-ins (a missing wake: an input
 * path that used a dormant connection's stages without `wake()`)? The first value that differs
 * from a fresh build's, as `path = value` (stand-in vs fresh), or null: unchanged, or not built
 * yet. Reads only; nothing on the engine's paths calls it (test/setup/stand-ins.ts after every
 * test, test/core/dormant-stages.test.ts after every step).
 */
export function standInsChanged(): string | null {
  if (standIns === null) return null;
  // A second build (never used) tells the shared objects from the stand-ins' own; a third is as built.
  const reference = (standInsReference ??= { other: stageList(buildStandIns()), pristine: ownValues(stageList(buildStandIns()), stageList(buildStandIns())) });
  const now = ownValues(stageList(standIns), reference.other);
  const pristine = reference.pristine;
  for (let i = 0; i < Math.max(now.length, pristine.length); i++) {
    if (now[i] !== pristine[i]) return `${now[i] ?? '(nothing)'} (a fresh build: ${pristine[i] ?? 'nothing'})`;
  }
  return null;
}
