/**
 * What one connection keeps for itself (issue 11, idle connections): the objects reachable from
 * it that are not shared with another connection. Tests assert that an idle connection owns no
 * closure and no Map/Set (those are created on first use), which is what the heap per idle
 * connection (bench/idle-heap.ts) is made of besides the stage objects themselves.
 */

/** Every object and function reachable from `root` through own properties and array elements (typed arrays' bytes not entered). */
export function reachable(root: object, skip: (key: string) => boolean = () => false): Map<object, string> {
  const seen = new Map<object, string>();
  const queue: [object, string][] = [[root, 'root']];
  while (queue.length > 0) {
    const [o, path] = queue.shift()!;
    if (seen.has(o)) continue;
    seen.set(o, path);
    if (ArrayBuffer.isView(o) || o instanceof ArrayBuffer) continue;
    if (typeof o === 'function') continue; // a closure is reported, not entered
    const entries: [string, unknown][] =
      o instanceof Map ? [...o.entries()].map(([k, v], i) => [`<${i}:${String(k)}>`, v]) : Object.entries(Object.getOwnPropertyDescriptors(o)).map(([k, d]) => [k, d.value]);
    for (const [key, value] of entries) {
      if (skip(key)) continue;
      if ((typeof value === 'object' && value !== null) || typeof value === 'function') queue.push([value as object, `${path}.${key}`]);
    }
  }
  return seen;
}

/** What `mine` reaches that `other` (another connection of the same kind) does not: its own objects. */
export function ownObjects(mine: object, other: object, skip?: (key: string) => boolean): Map<object, string> {
  const theirs = reachable(other, skip);
  const own = new Map<object, string>();
  for (const [o, path] of reachable(mine, skip)) if (!theirs.has(o)) own.set(o, path);
  return own;
}

/** Paths of the closures, Maps and Sets among `objects`. */
export function closuresAndMaps(objects: Map<object, string>): string[] {
  const out: string[] = [];
  for (const [o, path] of objects) {
    if (typeof o === 'function') out.push(`closure at ${path}`);
    else if (o instanceof Map || o instanceof Set) out.push(`${o.constructor.name} at ${path}`);
  }
  return out;
}
