/**
 * JSON parsing that refuses prototype-polluting keys. JSON.parse itself creates `__proto__` as an
 * own property (harmless), but any later merge or spread could turn it into a prototype change, so
 * a request that carries one is rejected outright (as fastify/secure-json-parse does).
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export class UnsafeJsonError extends Error {}

export function parseSafeJson(text: string): unknown {
  return JSON.parse(text, function reviver(key, value: unknown) {
    if (FORBIDDEN_KEYS.has(key)) throw new UnsafeJsonError(`forbidden key "${key}"`);
    return value;
  });
}

/** A plain JSON object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
