import type { ConnectionId } from '../wire/types.js';
import type { Deque } from './deque.js';
import { freeze, thaw, type DormantStages } from './dormant.js';
import type { PathMtuListener } from './path-mtu.js';
import { buildStages, canonicalInit, stageList, type Stages } from './stages.js';
import type { Tracer } from './trace.js';
import type { CoreConfig, CoreEvent } from './types.js';

/**
 * A connection's stages into the dormant form and back (dormant.ts does the walk): the record
 * of what differs from a canonical build, and the stages built again from it. When a connection
 * goes dormant and wakes is dormancy.ts's business (`compactIdle`, `goDormant`, `wake`);
 * this is how.
 */

/** What one connection's stages are built with, besides the numbers: the same at every build (dormancy.ts `wiring`). */
export interface StageWiring {
  /** The connection: the path-MTU listener, and an argument the stages share. */
  readonly owner: PathMtuListener;
  readonly config: CoreConfig;
  readonly trace: Tracer | null;
  readonly events: Deque<CoreEvent>;
  readonly remoteCid: ConnectionId;
  readonly localMaxDatagram: number;
}

/**
 * Dormant connections: on unless a test turns it off (test/core/dormant-stages.test.ts compares
 * both). Read by dormancy.ts `mayGoDormant` as a live binding (a variable read, as when it
 * lived there), written only by `setDormantStages`.
 */
export let dormantStagesOn = true;

/** @internal For tests: whether quiet connections take the dormant form (they still give back their idle storage). */
export function setDormantStages(on: boolean): void {
  dormantStagesOn = on;
}

/**
 * The dormant form of `current`: what differs from a fresh build, or null when the walk cannot
 * rebuild it exactly (dormant.ts `freeze` says why). `timeout` is what pollTimeout() says meanwhile.
 */
export function freezeStages(w: StageWiring, current: Stages, timeout: number): DormantStages | null {
  const randomBytes = current.path['randomBytes'];
  return freeze(
    stageList(current),
    stageList(canonicalStages(w, randomBytes)),
    stageList(canonicalStages(w, randomBytes)),
    stageArgs(w, randomBytes),
    timeout,
    randomBytes,
  );
}

/** The stages again, as they were when the connection went dormant. */
export function thawStages(w: StageWiring, dormant: DormantStages): Stages {
  const randomBytes = dormant.held as ((n: number) => Uint8Array) | null;
  const s = canonicalStages(w, randomBytes);
  thaw(stageList(s), dormant, stageArgs(w, randomBytes));
  return s;
}

/** The fields a dormant connection records, `path = value` (dormancy.ts `dormantFields`). */
export function dormantFieldsOf(w: StageWiring, dormant: DormantStages): string[] {
  const randomBytes = dormant.held as ((n: number) => Uint8Array) | null;
  const written: string[] = [];
  thaw(stageList(canonicalStages(w, randomBytes)), dormant, stageArgs(w, randomBytes), written);
  return written;
}

/** What the stages share with the rest of the connection: never walked into, never recorded. */
function stageArgs(w: StageWiring, randomBytes: ((n: number) => Uint8Array) | null): Set<unknown> {
  return new Set<unknown>([w.owner, w.config, w.trace, w.events, randomBytes]);
}

/** A fresh build with fixed numbers (what differs from it is what the dormant form records). */
function canonicalStages(w: StageWiring, randomBytes: ((n: number) => Uint8Array) | null): Stages {
  const config = w.config;
  return buildStages(w.owner, config, w.trace, w.events, w.remoteCid, canonicalInit(config, w.localMaxDatagram, randomBytes));
}
