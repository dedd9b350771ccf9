import fc from "fast-check";
// Event content any Matrix user can send (the homeserver accepts it) that trips code handing user objects to
// something that interprets keys: `toJSON` (serializers call it when truthy), `__proto__` (an assignment sets a
// prototype instead), `constructor` and `then` (duck typing), nesting 900 levels deep, a value that looks like
// keyv's Buffer encoding. Built from JSON text, as it arrives: `__proto__` stays an own key.
export const HOSTILE_KEYS = ["toJSON", "__proto__", "constructor", "then"] as const;

/** `depth` objects nested in one another, each under a hostile key (cycling through HOSTILE_KEYS). */
export function deepJson(depth: number): string {
  let open = "";
  for (let i = 0; i < depth; i++) open += `{"${HOSTILE_KEYS[i % HOSTILE_KEYS.length]}":`;
  return `${open}1${"}".repeat(depth)}`;
}

/** An m.text message with `body` and every hostile key, at the top of content and below it. */
export function hostileContent(body: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const json = `{"msgtype":"m.text","body":${JSON.stringify(body)},"toJSON":1,"then":{"then":1},`
    + `"constructor":{"prototype":{"toJSON":true}},"__proto__":{"toJSON":1,"then":2},`
    + `"nested":{"toJSON":"no","__proto__":{"toJSON":1}},"colon":":base64:AAAA","deep":${deepJson(900)}}`;
  return { ...(JSON.parse(json) as Record<string, unknown>), ...extra };
}

const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<string>(...HOSTILE_KEYS) },
  { weight: 1, arbitrary: fc.constantFrom("hasOwnProperty", "valueOf", "toString", "prototype", "length", ":base64:") },
  { weight: 2, arbitrary: fc.string({ maxLength: 8 }) },
);

/** An object with these entries as own data properties (a "__proto__" key included, as JSON.parse makes it). */
function objectOf(entries: Array<[string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of entries) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

/** Any JSON value whose objects favour the hostile keys. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: "small" },
    fc.jsonValue({ maxDepth: 1 }),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.array(fc.tuple(hostileKey, tie("value")), { maxLength: 5 }).map(objectOf)),
})).value;

/**
 * m.room.message content: a body, hostile entries at the top, and sometimes a value nested up to 900 levels under
 * hostile keys (built as JSON text and parsed, as the bot receives it).
 */
export const hostileMessageContent: fc.Arbitrary<Record<string, unknown>> = fc.record({
  body: fc.string({ maxLength: 20 }),
  top: fc.array(fc.tuple(hostileKey, hostileJson), { maxLength: 6 }),
  depth: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 900 })),
}).map(({ body, top, depth }) => {
  const deep = depth > 0 ? { deep: JSON.parse(deepJson(depth)) as unknown } : {};
  return objectOf([["msgtype", "m.text"], ["body", body], ...top.filter(([k]) => k !== "msgtype" && k !== "body"), ...Object.entries(deep)]);
});
