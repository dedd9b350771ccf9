// The outbox's hand check of an entry (src/outbox/entry-check.ts): what it takes, the schema takes with the same
// output (fields, order, a content copy); the rest is left to the schema.
import fc from "fast-check";
import { checkedEntry } from "../../../src/outbox/entry-check";
import { outboxEntryInputSchema, type OutboxEntryInput } from "../../../src/outbox/records";

function check(entry: unknown): boolean {
  const quick = checkedEntry(entry as OutboxEntryInput);
  if (quick === undefined) return false;
  const parsed = outboxEntryInputSchema.safeParse(entry);
  expect(parsed.success).toBe(true);
  expect(quick).toStrictEqual(parsed.data);
  expect(JSON.stringify(quick)).toBe(JSON.stringify(parsed.data));
  expect(quick.content).not.toBe((entry as OutboxEntryInput).content); // a copy, as the schema's: the caller's object may change later
  return true;
}

test("a reply, a notice and a named agent's message take the hand check; odd ones go to the schema", () => {
  const content = { msgtype: "m.text", body: "ok", "m.mentions": { user_ids: [] } };
  expect(check({ roomId: "!r:x", type: "m.room.message", content, txnId: "t1" })).toBe(true);
  expect(check({ roomId: "!r:x", type: "m.room.message", content, txnId: "t1", origin: { kind: "reply", runId: "r" } })).toBe(true);
  expect(check({ roomId: "!r:x", type: "m.room.message", content, txnId: "t1", origin: { kind: "notice" }, asUser: "@a:x" })).toBe(true);
  expect(check({ roomId: "!r:x", type: "m.room.message", content: { [Symbol("s")]: 1 }, txnId: "t1" })).toBe(false);
  expect(check({ roomId: "!r:x", type: "m.room.message", content: new Map(), txnId: "t1" })).toBe(false);
  expect(check({ roomId: "!r:x", type: "m.room.message", content, txnId: "t1", origin: { kind: "reply", extra: 1 } })).toBe(false);
  expect(check({ roomId: "!r:x", type: "m.room.message", content, txnId: "t1", origin: { kind: "other" } })).toBe(false);
  expect(check({ roomId: "", type: "m.room.message", content, txnId: "t1" })).toBe(false);
  expect(check({ roomId: "!r:x", type: "m.room.message", content, txnId: "t1", asUser: "" })).toBe(false);
  expect(check({ roomId: "!r:x", type: "m.room.message", content: JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as object, txnId: "t1" })).toBe(false);
});

test("property: whatever the hand check takes, the schema takes with the same output", () => {
  const value = fc.oneof(fc.constant(""), fc.constant("x"), fc.integer(), fc.constant(null), fc.constant([]), fc.constant(undefined));
  const often = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 4 }, { arbitrary: value, weight: 1 });
  const content = often(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }));
  const origin = fc.record({ kind: often(fc.constantFrom("reply", "proactive", "notice", "live")), runId: often(fc.string()) }, { requiredKeys: ["kind"] });
  const entry = fc.record({ roomId: often(fc.constant("!r:x")), type: often(fc.constant("m.room.message")), content,
    txnId: often(fc.constant("t1")), origin: often(origin), asUser: often(fc.constant("@a:x")) }, { requiredKeys: ["roomId", "type", "content", "txnId"] });
  let taken = 0;
  fc.assert(fc.property(entry, (e) => {
    if (check(e)) taken += 1;
  }), { numRuns: 3000 });
  expect(taken).toBeGreaterThan(100);
});
