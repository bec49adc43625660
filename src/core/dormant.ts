/**
 * The dormant form of a quiet connection's stages (idle connections, issue 11 part 4).
 *
 * A connection is some twenty stage objects (send scheduler, loss recovery, BBR, receiver, path
 * MTU, ...), each with a header, references to its neighbours and boxed numbers: ~3 KB, most of
 * it the same in every connection. Once a connection has been quiet for a while (state.ts
 * `COMPACT_AFTER_MS`) it keeps only what differs from a freshly built set of stages, and builds
 * the stages again from that on its next input:
 *
 *  - `freeze(old, template1, template2, args)` walks the connection's stage graph and a template
 *    graph built by the same function side by side, field by field in property order, and
 *    records each field whose value differs: its position in the walk, and the value (numbers
 *    unboxed in one packed array, anything else in another). Objects of the template that a
 *    second, independent template shares (module constants such as the shared empty Deque) and
 *    the builder's arguments (`args`: the config, the event queue, the connection itself) are
 *    shared, never walked into; a field holding one is recorded as a reference. The old graph's
 *    own objects are walked into together with the template's object at the same place.
 *  - `thaw(fresh, dormant, args)` walks a graph built again by the same function in the same
 *    order, and writes the recorded values at their positions.
 *
 * The two walks visit the same fields in the same order because they decide where to descend
 * from the same facts (an object of the build that is not shared and not yet visited), so the
 * graph built on wake equals the one that went to sleep, field for field; stage code is not
 * touched and knows nothing of this. An array of plain values (or a typed array) that differs in
 * length or content is kept as it is, by reference. So is an object of the old graph where the
 * template has none or a shared one (a redundancy table, an unreliable reassembly, a path
 * validator, channel levels, a queue holding items) and an array of objects of another length
 * (the channels of a connection that used more than channel 0), with everything they reach: the
 * very objects that slept come back. Where what is kept holds an object that is rebuilt (a
 * channel's receive buffer points at its Receiver, a list of buffers at channel 0's), that field
 * is a patch, pointed at the rebuilt object on thaw (found at the walk position where the
 * freeze met the old one); while dormant it keeps the old one. Whatever the walk cannot
 * reproduce exactly makes `freeze` return null and the connection stays awake until its next
 * quiet period after new activity (state.ts `Sleep.Refused`, dormancy.ts): a closure of its own,
 * different property lists, a different prototype, a non-empty Map or Set met by the walk, a
 * kept Map or Set entry that is rebuilt. The caller keeps awake for good what the walk cannot see
 * at all: the application's own congestion controller (its `#` fields, and references the
 * application holds to it; connection.ts `sleep`).
 *
 * test/core/dormant-stages.test.ts checks the woken graph against the one that slept, value by
 * value, and that a connection that slept behaves as one that never did.
 */

/** What a dormant connection keeps of its stages: the fields that differ from a fresh build. */
export interface DormantStages {
  /**
   * One char per recorded field: 2 × (its position in the walk − the previous recorded one's),
   * + 1 when its value is in `refs`. Gaps are small, so this is mostly a one-byte string.
   */
  readonly at: string;
  /** Numeric values, in walk order (a packed array of doubles: unboxed). */
  readonly nums: number[];
  /** Other values (booleans, strings, shared objects, plain-value arrays kept as they are), in walk order. */
  readonly refs: unknown[];
  /** What `pollTimeout()` returns meanwhile (Infinity: null): nothing changes a dormant connection's deadlines. */
  readonly timeout: number;
  /** What the caller needs to build the stages again (an argument of its builder). */
  readonly held: unknown;
  /**
   * Fields of kept objects (recorded by reference) that hold a rebuilt object: object, key, and
   * the walk position of the field the rebuilt object is found at; written on thaw. Null: none.
   */
  readonly patches: unknown[] | null;
}

/** Objects every build of the stages shares (found by comparing two builds); weak, as some belong to one connection's config. */
const SHARED = new WeakSet<object>();
const NO_REFS: unknown[] = [];
/** Gaps between recorded positions are stored ×2 in a UTF-16 char. */
const MAX_GAP = 0x7fff;

/** Not walked into: functions, Maps and Sets (compared by size), typed arrays and buffers (compared by content). */
function isLeaf(v: object): boolean {
  return typeof v === 'function' || v instanceof Map || v instanceof Set || ArrayBuffer.isView(v) || v instanceof ArrayBuffer;
}

/** A Map's entries, or a Set's members each as key and value: what a walk of either must visit. */
function entriesOf(o: Map<unknown, unknown> | Set<unknown>): Iterable<[unknown, unknown]> {
  return o instanceof Map ? o.entries() : [...o].map((x): [unknown, unknown] => [x, x]);
}

function isObject(v: unknown): v is object {
  return (typeof v === 'object' && v !== null) || typeof v === 'function';
}

/** Values that hold no reference to anything of the graph: kept as they are. */
function isPlainData(v: object): boolean {
  if (ArrayBuffer.isView(v)) return true;
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (isObject(v[i])) return false;
  return true;
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength || a.constructor !== b.constructor) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * Every object reachable from `roots` through own properties and array elements, not entering
 * `stop` nor objects already known to be shared (what only they reach was classified with them).
 */
function reach(roots: readonly object[], stop: ReadonlySet<unknown>, entries = false): Set<object> {
  const seen = new Set<object>();
  const todo: object[] = [...roots];
  while (todo.length > 0) {
    const o = todo.pop()!;
    if (stop.has(o) || seen.has(o) || SHARED.has(o)) continue;
    seen.add(o);
    // `entries`: into the keys and values of Maps and Sets too.
    if (entries && (o instanceof Map || o instanceof Set)) {
      for (const [k, v] of entriesOf(o)) {
        if (isObject(k)) todo.push(k);
        if (isObject(v)) todo.push(v);
      }
      continue;
    }
    if (isLeaf(o)) continue;
    if (Array.isArray(o)) {
      for (let i = 0; i < o.length; i++) {
        const v: unknown = o[i];
        if (isObject(v)) todo.push(v);
      }
      continue;
    }
    const names = Object.getOwnPropertyNames(o);
    for (let i = 0; i < names.length; i++) {
      const v: unknown = (o as Record<string, unknown>)[names[i]!];
      if (isObject(v)) todo.push(v);
    }
  }
  return seen;
}

class Bail extends Error {}
const BAIL = new Bail('dormant: not reproducible');

/** Why the last `freeze` returned null (a field path and a reason), for tests and diagnostics. */
export let lastRefusal = '';

/**
 * The fields of `old` that differ from `template` (both built by the same function; `second`
 * another build, to tell shared objects from built ones), or null when the walk cannot
 * reproduce `old` exactly.
 */
export function freeze(
  old: readonly object[],
  template: readonly object[],
  second: readonly object[],
  args: ReadonlySet<unknown>,
  timeout: number,
  held: unknown = null,
): DormantStages | null {
  // Walk positions are needed only for patches (rare): the first walk does without them.
  const first = freezeWalk(old, template, second, args, timeout, held, false);
  return first === NEEDS_POSITIONS ? (freezeWalk(old, template, second, args, timeout, held, true) as DormantStages | null) : first;
}

/** What a walk without positions says when a kept object needs patches. */
const NEEDS_POSITIONS = Symbol('positions');

function freezeWalk(
  old: readonly object[],
  template: readonly object[],
  second: readonly object[],
  args: ReadonlySet<unknown>,
  timeout: number,
  held: unknown,
  positions: boolean,
): DormantStages | null | typeof NEEDS_POSITIONS {
  const a = reach(template, args);
  const b = reach(second, args);
  for (const o of a) if (b.has(o)) SHARED.add(o);
  const shared = (v: object): boolean => args.has(v) || SHARED.has(v);
  const codes: number[] = [];
  const nums: number[] = [];
  const refs: unknown[] = [];
  const mapped = new Map<object, object>();
  const built = new Set<object>();
  /** Objects of the old graph recorded by reference, with all they reach (`keptWhole`). */
  const kept: object[] = [];
  /** The walk position at which each object of the old graph that is rebuilt was met. */
  const positionOf: Map<object, number> | null = positions ? new Map() : null;
  let patches: unknown[] | null = null;
  let position = 0;

  let recordedAt = 0;
  const record = (v: unknown): void => {
    const gap = position - recordedAt;
    if (gap > MAX_GAP) refuse('too many fields between two recorded ones');
    recordedAt = position;
    if (typeof v === 'number') {
      codes.push(2 * gap);
      nums.push(v);
    } else {
      codes.push(2 * gap + 1);
      refs.push(v);
    }
  };

  const field = (ov: unknown, tv: unknown): void => {
    position++;
    if (Object.is(ov, tv)) {
      // The thaw walk would descend into a built object here: it must be a shared one.
      if (isObject(tv) && !isLeaf(tv) && !shared(tv)) refuse('an object of the build that is not shared');
      return;
    }
    if (!isObject(ov)) {
      record(ov);
      return;
    }
    if (typeof ov === 'function' && !shared(ov)) refuse('a closure of its own');
    if (shared(ov)) {
      record(ov);
      return;
    }
    // `ov` belongs to the old graph.
    if (!isObject(tv) || shared(tv)) {
      // Something a fresh build does not make (a redundancy table, a path validator, channel
      // levels): kept as it is, by reference, if nothing of it is rebuilt (checked at the end).
      if (!isPlainData(ov)) kept.push(ov);
      record(ov);
      return;
    }
    // Both belong to their graphs: the same place in both.
    const seen = mapped.get(ov);
    if (seen !== undefined) {
      if (seen !== tv) refuse('shared differently');
      return;
    }
    if (built.has(tv) || Object.getPrototypeOf(ov) !== Object.getPrototypeOf(tv)) refuse('shared differently, or another class');
    if (isLeaf(ov)) {
      if (ov instanceof Map || ov instanceof Set) {
        if (ov.size !== 0 || (tv as Map<unknown, unknown>).size !== 0) refuse('a Map or Set with entries');
      } else if (ArrayBuffer.isView(ov)) {
        if (!sameBytes(ov, tv as ArrayBufferView)) {
          record(ov);
          return;
        }
      } else refuse('a closure of its own');
      mapped.set(ov, tv);
      positionOf?.set(ov, position);
      built.add(tv);
      return;
    }
    if (Array.isArray(ov) && ov.length !== (tv as unknown[]).length) {
      // More channels than a fresh build has: the array is kept as it is, with its objects.
      if (!isPlainData(ov)) kept.push(ov);
      record(ov);
      return;
    }
    mapped.set(ov, tv);
    positionOf?.set(ov, position);
    built.add(tv);
    walk(ov, tv);
  };

  const path: (string | number)[] = [];
  const refuse = (why: string): never => {
    lastRefusal = `${path.join('.')}: ${why}`;
    throw BAIL;
  };
  const walk = (o: object, t: object): void => {
    if (Array.isArray(o)) {
      const tt = t as unknown[];
      for (let i = 0; i < o.length; i++) {
        path.push(i);
        field(o[i], tt[i]);
        path.pop();
      }
      return;
    }
    // All own string-keyed fields, enumerable or not (src/core keys nothing by symbol).
    const keys = Object.getOwnPropertyNames(o);
    const tkeys = Object.getOwnPropertyNames(t);
    if (keys.length !== tkeys.length) refuse('a different number of fields');
    const oo = o as Record<string, unknown>;
    const to = t as Record<string, unknown>;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] !== tkeys[i]) refuse(`fields differ (${keys[i]} / ${tkeys[i]})`);
      path.push(keys[i]!);
      field(oo[keys[i]!], to[keys[i]!]);
      path.pop();
    }
  };

  /**
   * What is kept by reference comes back as the very objects that slept. Where one of them (or
   * what it reaches) holds an object that is rebuilt (a channel's receive buffer holds its
   * Receiver; a list of buffers holds channel 0's), that field is a patch: thaw points it at the
   * rebuilt object, found at the same walk position. (While dormant it keeps the old one.)
   * Nothing kept may hold a closure of its own, nor a Map or Set entry that is rebuilt (no
   * field to patch). Kept objects may share objects with each other: they are the same objects.
   */
  const keptWhole = (): void => {
    path.length = 0;
    path.push('(kept)');
    const stop = new Set<unknown>(args);
    for (const o of mapped.keys()) stop.add(o);
    for (const o of reach(kept, stop, true)) {
      if (typeof o === 'function') refuse('a kept object holds a closure of its own');
      if (o instanceof Map || o instanceof Set) {
        for (const [k, v] of entriesOf(o)) {
          if ((isObject(k) && mapped.has(k)) || (isObject(v) && mapped.has(v))) refuse('a kept Map or Set holds an object that is rebuilt');
        }
        continue;
      }
      if (isLeaf(o)) continue;
      const names = Object.getOwnPropertyNames(o);
      for (let i = 0; i < names.length; i++) {
        const v: unknown = (o as Record<string, unknown>)[names[i]!];
        if (!isObject(v) || !mapped.has(v)) continue;
        if (positionOf === null) throw NEEDS_POSITIONS;
        (patches ??= []).push(o, Array.isArray(o) ? Number(names[i]) : names[i], positionOf.get(v)!);
      }
    }
  };

  try {
    walk(old, template);
    if (kept.length !== 0) keptWhole();
  } catch (e) {
    if (e === BAIL) return null;
    if (e === NEEDS_POSITIONS) return NEEDS_POSITIONS;
    throw e;
  }
  return {
    at: String.fromCharCode(...codes),
    // Exact-length copies (push leaves spare capacity).
    nums: nums.slice(),
    refs: refs.length === 0 ? NO_REFS : refs.slice(),
    timeout,
    held,
    patches,
  };
}

/**
 * A number as the code that stored it would have: a small integer as a Smi. An element of
 * `nums` (a double array) is read as a HeapNumber even when it holds 5, and a HeapNumber stored
 * into a field that so far held Smis only makes V8 change the field to a double field: a new
 * hidden class for that stage in every connection, the old one deprecated, and every compiled
 * function that checks it thrown away (the first wake deoptimised ~85 functions of a busy
 * neighbour's hot path: bench/dormant-deopts.ts). `v | 0` is a Smi wherever it equals `v`
 * (int32; -0 stays a double, as it was).
 */
function asStored(v: number): number {
  const i = v | 0;
  return i === v && (i !== 0 || 1 / v > 0) ? i : v;
}

/** Write what `freeze` recorded into `fresh`, a new build by the same function with the same `args`. */
export function thaw(fresh: readonly object[], dormant: DormantStages, args: ReadonlySet<unknown>, written?: string[]): void {
  const { at, nums, refs } = dormant;
  const visited = new Set<object>();
  let position = 0;
  let k = 0;
  let ni = 0;
  let ri = 0;
  /** The next recorded field's position and kind (code as in `at`, with the position instead of the gap). */
  let next = at.length > 0 ? at.charCodeAt(0) : -1;

  const path: (string | number)[] = [];
  const patches = dormant.patches;
  /** The rebuilt objects that patches point kept objects at, by walk position. */
  let wanted: Map<number, unknown> | null = null;
  if (patches !== null) {
    wanted = new Map();
    for (let i = 2; i < patches.length; i += 3) wanted.set(patches[i] as number, undefined);
  }
  const walk = (o: object): void => {
    const r = o as Record<string | number, unknown>;
    if (Array.isArray(o)) {
      for (let i = 0; i < o.length; i++) field(r, i);
      return;
    }
    const keys = Object.getOwnPropertyNames(o);
    for (let i = 0; i < keys.length; i++) field(r, keys[i]!);
  };

  const field = (r: Record<string | number, unknown>, key: string | number): void => {
    position++;
    if (written !== undefined) path.push(key);
    if (next >>> 1 === position && next >= 0) {
      r[key] = (next & 1) === 0 ? asStored(nums[ni++]!) : refs[ri++];
      if (written !== undefined) {
        written.push(`${path.join('.')} = ${typeof r[key] === 'number' ? String(r[key]) : Array.isArray(r[key]) ? `[${String(r[key])}]` : typeof r[key]}`);
        path.pop();
      }
      k++;
      next = k < at.length ? at.charCodeAt(k) + 2 * position : -1;
      return;
    }
    const v = r[key];
    if (wanted !== null && wanted.has(position)) wanted.set(position, v);
    if (isObject(v) && !isLeaf(v) && !args.has(v) && !SHARED.has(v) && !visited.has(v)) {
      visited.add(v);
      walk(v);
    }
    if (written !== undefined) path.pop();
  };

  walk(fresh);
  if (k !== at.length || ni !== nums.length || ri !== refs.length) throw new Error('dormant: the woken stages do not match the record');
  if (patches !== null) {
    for (let i = 0; i < patches.length; i += 3) {
      const target = wanted!.get(patches[i + 2] as number);
      if (!isObject(target)) throw new Error('dormant: a patch found no rebuilt object');
      (patches[i] as Record<string | number, unknown>)[patches[i + 1] as string | number] = target;
    }
  }
}

/**
 * The values of the objects `roots` reach that `other` (an independent build by the same
 * function) does not share, one line per field in walk order, objects numbered as first met:
 * two builds that are alike give equal lists. For tests: what a missing wake would write into
 * the shared stand-ins shows as a line that differs from a fresh build (connection.ts
 * `standInsChanged`). Reads only.
 */
export function ownValues(roots: readonly object[], other: readonly object[]): string[] {
  const shared = reach(other, new Set());
  const out: string[] = [];
  const ids = new Map<object, number>();
  const visit = (v: unknown, path: string): void => {
    if (!isObject(v)) {
      const text = typeof v === 'number' ? (Object.is(v, -0) ? '-0' : String(v)) : typeof v === 'bigint' ? `${v}n` : String(JSON.stringify(v) ?? v);
      out.push(`${path} = ${text}`);
      return;
    }
    if (shared.has(v) || SHARED.has(v)) {
      out.push(`${path} = <shared>`);
      return;
    }
    const id = ids.get(v);
    if (id !== undefined) {
      out.push(`${path} = #${id}`);
      return;
    }
    ids.set(v, ids.size);
    if (typeof v === 'function') {
      out.push(`${path} = <function>`);
      return;
    }
    if (v instanceof Map || v instanceof Set) {
      out.push(`${path} = <${v.constructor.name} of ${v.size}>`);
      return;
    }
    if (ArrayBuffer.isView(v)) {
      out.push(`${path} = <${v.constructor.name} ${Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), (x) => x.toString(16)).join(',')}>`);
      return;
    }
    if (v instanceof ArrayBuffer) {
      out.push(`${path} = <ArrayBuffer ${v.byteLength}>`);
      return;
    }
    out.push(`${path} = <${(v as object).constructor?.name ?? 'object'}>`);
    for (const key of Object.getOwnPropertyNames(v)) visit((v as Record<string, unknown>)[key], `${path}.${key}`);
  };
  for (let i = 0; i < roots.length; i++) visit(roots[i], String(i));
  return out;
}
