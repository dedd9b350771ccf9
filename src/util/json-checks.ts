// Checks of parsed JSON that the hand-written fast paths share (agent frames, the usage meter, outbox entries): each
// fast path is judged against its zod schema by its own tests; these only say what a value is.

/** A JSON object: not null, not an array. */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A string with at least one character. */
export function isNonEmptyString(v: unknown): v is string {
  return typeof v === "string" && v.length > 0;
}

/** `key` is an own property of `o` (not one from its prototype). */
export function hasOwn(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}
