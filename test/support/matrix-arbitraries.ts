// Test support: fast-check arbitraries shaped like Matrix identifiers (spec appendices "Identifier
// Grammar", room versions 1-12). Reuse these instead of plain fc.string() when a property is about ids.
import fc from "fast-check";

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = LOWER.toUpperCase();
const DIGITS = "0123456789";
const ALNUM = LOWER + UPPER + DIGITS;

/** Characters that are separators somewhere (URLs, keys, our own formats) and legal in opaque ids. */
export const SEPARATOR_CHARS = [".", "_", "-", "~", ":", "=", "/", "+", "%", "!", "$", "@", "#", " "] as const;
const UNICODE_SAMPLES = ["ü", "é", "ß", "Ω", "例", "🧵", "\u200B", "\uFEFF", "İ", "ı", "K" /* Kelvin sign */];

const char = (alphabet: string): fc.Arbitrary<string> => fc.constantFrom(...alphabet.split(""));

/** Base64 of the given alphabet, between minLength and maxLength characters, unpadded. */
function base64Text(alphabet: string, minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: char(alphabet), minLength, maxLength });
}

/** An opaque id part as old servers minted them: mostly alphanumeric, with separators and unicode. */
export const opaqueIdPart: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: base64Text(ALNUM, 1, 18) },
  {
    weight: 3,
    arbitrary: fc.string({
      unit: fc.oneof(
        { weight: 6, arbitrary: char(ALNUM) },
        { weight: 2, arbitrary: fc.constantFrom(...SEPARATOR_CHARS) },
        { weight: 1, arbitrary: fc.constantFrom(...UNICODE_SAMPLES) },
      ),
      minLength: 1,
      maxLength: 24,
    }),
  },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }) },
);

const dnsLabel = fc.stringMatching(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,10}[A-Za-z0-9])?$/);
/** host names like `example.org`, `Matrix.EXAMPLE.com`, `localhost` */
export const dnsName: fc.Arbitrary<string> = fc.array(dnsLabel, { minLength: 1, maxLength: 4 }).map((l) => l.join("."));
/** Unicode host names as they appear in ids (not punycode): `bücher.example` */
export const unicodeHostName: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom("bücher", "пример", "例え", "straße", "δοκιμή", "ü"), dnsName)
  .map(([label, rest]) => `${label}.${rest}`);
/** `[2001:db8::1]` */
export const ipv6Literal: fc.Arbitrary<string> = fc.ipV6().map((a) => `[${a}]`);
export const port: fc.Arbitrary<number> = fc.integer({ min: 1, max: 65535 });

/** server_name = host [":" port], host = DNS name | IPv4 | "[" IPv6 "]" (plus unicode names). */
export const serverName: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof({ weight: 4, arbitrary: dnsName }, fc.ipV4(), ipv6Literal, unicodeHostName),
    fc.option(port, { nil: undefined }),
  )
  .map(([host, p]) => (p === undefined ? host : `${host}:${p}`));

/** Room version 12: `!` + url-safe unpadded base64 of the create event's hash, no server part. */
export const v12RoomId: fc.Arbitrary<string> = fc
  .oneof({ weight: 3, arbitrary: base64Text(ALNUM + "-_", 43, 43) }, base64Text(ALNUM + "-_", 1, 43))
  .map((s) => `!${s}`);
/** Room versions 1-11: `!opaque:server`. */
export const classicRoomId: fc.Arbitrary<string> = fc
  .tuple(opaqueIdPart, serverName)
  .map(([opaque, server]) => `!${opaque}:${server}`);
export const roomId: fc.Arbitrary<string> = fc.oneof(v12RoomId, classicRoomId);

/** Room versions 1-2: `$opaque:server`. */
export const v1EventId: fc.Arbitrary<string> = fc
  .tuple(opaqueIdPart, serverName)
  .map(([opaque, server]) => `$${opaque}:${server}`);
/** Room version 3: `$` + standard unpadded base64 (may contain `+` and `/`). */
export const v3EventId: fc.Arbitrary<string> = base64Text(ALNUM + "+/", 43, 43).map((s) => `$${s}`);
/** Room versions 4+: `$` + url-safe unpadded base64 (may contain `-` and `_`). */
export const v4EventId: fc.Arbitrary<string> = base64Text(ALNUM + "-_", 43, 43).map((s) => `$${s}`);
export const eventId: fc.Arbitrary<string> = fc.oneof(v1EventId, v3EventId, v4EventId);

/** `@localpart:server`; modern localparts are `[a-z0-9._=\-/+]`, historical ones anything printable. */
export const userId: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.string({ unit: char(LOWER + DIGITS + "._=-/+"), minLength: 1, maxLength: 20 }) },
      opaqueIdPart,
    ),
    serverName,
  )
  .map(([local, server]) => `@${local}:${server}`);

/** Pairs [id, the same id with the case of some letters changed]; the two always differ. */
export function caseVariants(ids: fc.Arbitrary<string>): fc.Arbitrary<[string, string]> {
  return ids
    .filter((id) => id.toLowerCase() !== id.toUpperCase())
    .chain((id) => fc.tuple(fc.constant(id), fc.mixedCase(fc.constant(id))))
    .filter(([a, b]) => a !== b);
}

export const generation: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: 5 }) },
  fc.nat(),
  fc.constant(Number.MAX_SAFE_INTEGER),
);

export interface ThreadRefSample {
  roomId: string;
  threadRootId?: string;
  generation: number;
}

/** (room id, thread root or none, generation), the input of thread keys. No `threadRootId` key when none. */
export const threadRef: fc.Arbitrary<ThreadRefSample> = fc
  .tuple(roomId, fc.option(eventId, { nil: undefined }), generation)
  .map(([room, thread, gen]) =>
    thread === undefined ? { roomId: room, generation: gen } : { roomId: room, threadRootId: thread, generation: gen },
  );
