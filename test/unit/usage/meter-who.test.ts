// Who a run counts for (src/usage/meter.ts whoOf): the hand check of the common input decides as the schema did.
import fc from "fast-check";
import { z } from "zod";
import { whoOf } from "../../../src/usage/meter";

/** The meter's schema and reading before the hand check (kept here as the reference). */
const OldSchema = z.looseObject({
  messages: z.array(z.looseObject({ sender: z.string() })).min(1),
  context: z.looseObject({ roomId: z.string() }),
});
function oldWho(input: unknown): { roomId: string; userId: string } | undefined {
  const parsed = OldSchema.safeParse(input);
  return parsed.success
    ? { roomId: parsed.data.context.roomId, userId: parsed.data.messages[parsed.data.messages.length - 1]?.sender ?? "" }
    : undefined;
}

test("a turn's input counts for its room and its last sender; a malformed one for no one", () => {
  const input = { messages: [{ id: "$1", sender: "@a:x" }, { id: "$2", sender: "@b:x" }], context: { roomId: "!r:x", isDirect: false } };
  expect(whoOf(input)).toEqual({ roomId: "!r:x", userId: "@b:x" });
  expect(whoOf({ ...input, messages: [] })).toBeUndefined();
  expect(whoOf({ ...input, messages: [{ sender: 3 }] })).toBeUndefined();
  expect(whoOf({ ...input, context: [] })).toBeUndefined();
  expect(whoOf([input])).toBeUndefined();
});

test("property: whoOf decides and answers as the schema did", () => {
  const value = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.constant([]), fc.constant({}), fc.boolean());
  const often = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 4 }, { arbitrary: value, weight: 1 });
  const message = often(fc.record({ sender: often(fc.string()), id: value }, { requiredKeys: [] }));
  const input = often(fc.record({ messages: often(fc.array(message, { maxLength: 3 })), context: often(fc.record({ roomId: often(fc.string()) }, { requiredKeys: [] })) },
    { requiredKeys: [] }));
  fc.assert(fc.property(input, (i) => {
    expect(whoOf(i)).toEqual(oldWho(i));
  }), { numRuns: 3000 });
});
