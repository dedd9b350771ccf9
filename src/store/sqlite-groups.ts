// The SQLite adapter's queued writes (sqlite-adapter.ts) and how a group commit is cut into segments.

export type Write =
  | { kind: "set"; key: string; value: unknown; expires: number | null; resolve: (v: unknown) => void; reject: (e: unknown) => void }
  | { kind: "delete"; key: string; resolve: (v: boolean) => void; reject: (e: unknown) => void }
  | InsertWrite;
/** insertIfAbsent's write: resolves true when it wrote the key (no live entry was there), false when it left it. */
export type InsertWrite = { kind: "insert"; key: string; value: unknown; expires: number | null; resolve: (v: boolean) => void; reject: (e: unknown) => void };

/**
 * A group cut where an insert meets another write of its key: each segment's inserts share no key with the rest of
 * the segment, so its statements (deletes, sets, inserts) may run in any order; the segments run in arrival order.
 * A group without inserts is one segment.
 */
export function segmentsOf(group: Write[]): Write[][] {
  if (!group.some((w) => w.kind === "insert")) return [group];
  const segments: Write[][] = [];
  let current: Write[] = [];
  const keys = new Set<string>();
  const insertKeys = new Set<string>();
  for (const w of group) {
    if (w.kind === "insert" ? keys.has(w.key) : insertKeys.has(w.key)) {
      segments.push(current);
      current = [];
      keys.clear();
      insertKeys.clear();
    }
    current.push(w);
    keys.add(w.key);
    if (w.kind === "insert") insertKeys.add(w.key);
  }
  segments.push(current);
  return segments;
}
