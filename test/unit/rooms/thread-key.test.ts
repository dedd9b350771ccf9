import fc from "fast-check";
import { decodeThreadKey, encodeThreadKey, isThreadKey, type ThreadKeyParts } from "../../../src/rooms/thread-key";
import {
  caseVariants,
  classicRoomId,
  eventId,
  generation,
  roomId,
  SEPARATOR_CHARS,
  threadRef,
  userId,
  v12RoomId,
} from "../../support/matrix-arbitraries";

const URL_SAFE = /^[A-Za-z0-9._~-]+$/;
const same = (a: ThreadKeyParts, b: ThreadKeyParts): boolean =>
  a.roomId === b.roomId && a.threadRootId === b.threadRootId && a.generation === b.generation;

describe("thread keys: fixed examples (the format is a contract with stored data and the agent)", () => {
  it.each<[ThreadKeyParts, string]>([
    [{ roomId: "!abc:example.org", generation: 0 }, "v1.abc_3Aexample.org~g0"],
    [{ roomId: "!abcDEF_-123", generation: 2 }, "v1.abcDEF_5F-123~g2"],
    [
      {
        roomId: "!abc:example.org",
        threadRootId: "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg",
        generation: 1,
      },
      "v1.abc_3Aexample.org~g1~Rqnc-F-dvnEYJTyHq_5FiKxU2bZ1CI92-kuZq3a5lr5Zg",
    ],
    [
      { roomId: "!r:matrix.example.org:8448", threadRootId: "$a+b/c=", generation: 10 },
      "v1.r_3Amatrix.example.org_3A8448~g10~a_2Bb_2Fc_3D",
    ],
    [{ roomId: "!x:[2001:db8::1]", threadRootId: "$1:hs", generation: 0 }, "v1.x_3A_5B2001_3Adb8_3A_3A1_5D~g0~1_3Ahs"],
    [{ roomId: "!ünï:bücher.example", generation: 3 }, "v1._C3_BCn_C3_AF_3Ab_C3_BCcher.example~g3"],
    [{ roomId: "!a~b_c.d-e:x", generation: 0 }, "v1.a_7Eb_5Fc.d-e_3Ax~g0"],
  ])("%j → %s", (parts, key) => {
    expect(encodeThreadKey(parts)).toBe(key);
    expect(decodeThreadKey(key)).toEqual(parts);
    expect(isThreadKey(key)).toBe(true);
  });

  it("keeps ids that look like escapes apart from the ids they look like", () => {
    const lookalike = encodeThreadKey({ roomId: "!abc_3Aexample.org", generation: 0 });
    const real = encodeThreadKey({ roomId: "!abc:example.org", generation: 0 });
    expect(lookalike).toBe("v1.abc_5F3Aexample.org~g0");
    expect(lookalike).not.toBe(real);
    const tricky = { roomId: "!a~g0~b:x", generation: 0 };
    expect(decodeThreadKey(encodeThreadKey(tricky))).toEqual(tricky);
  });
});

describe("thread keys: properties over Matrix-shaped ids", () => {
  it("round-trips", () => {
    fc.assert(
      fc.property(threadRef, (parts) => {
        expect(decodeThreadKey(encodeThreadKey(parts))).toEqual(parts);
      }),
      { numRuns: 2000 },
    );
  });

  it("uses only URL-safe characters and needs no URL encoding", () => {
    fc.assert(
      fc.property(threadRef, (parts) => {
        const key = encodeThreadKey(parts);
        expect(key).toMatch(URL_SAFE);
        expect(key.startsWith("v1.")).toBe(true);
        expect(encodeURIComponent(key)).toBe(key);
        for (const forbidden of [":", "!", "$", "@", "/", "%", "+"]) expect(key).not.toContain(forbidden);
      }),
      { numRuns: 2000 },
    );
  });

  it("is injective: different inputs give different keys", () => {
    fc.assert(
      fc.property(threadRef, threadRef, (a, b) => {
        expect(encodeThreadKey(a) === encodeThreadKey(b)).toBe(same(a, b));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uniqueArray(threadRef, { minLength: 2, maxLength: 40, selector: (p) => JSON.stringify(p) }), (all) => {
        expect(new Set(all.map(encodeThreadKey)).size).toBe(all.length);
      }),
      { numRuns: 300 },
    );
  });

  it("keeps case: ids differing only in case get different keys", () => {
    fc.assert(
      fc.property(caseVariants(roomId), generation, ([a, b], gen) => {
        const ka = encodeThreadKey({ roomId: a, generation: gen });
        const kb = encodeThreadKey({ roomId: b, generation: gen });
        expect(ka).not.toBe(kb);
        expect(decodeThreadKey(kb)?.roomId).toBe(b);
      }),
    );
    fc.assert(
      fc.property(roomId, caseVariants(eventId), generation, (room, [a, b], gen) => {
        expect(encodeThreadKey({ roomId: room, threadRootId: a, generation: gen })).not.toBe(
          encodeThreadKey({ roomId: room, threadRootId: b, generation: gen }),
        );
      }),
    );
  });

  it("separates thread vs main timeline, and generations", () => {
    fc.assert(
      fc.property(roomId, eventId, fc.nat({ max: 1_000_000 }), (room, thread, gen) => {
        const keys = [
          encodeThreadKey({ roomId: room, generation: gen }),
          encodeThreadKey({ roomId: room, generation: gen + 1 }),
          encodeThreadKey({ roomId: room, threadRootId: thread, generation: gen }),
          encodeThreadKey({ roomId: room, threadRootId: thread, generation: gen + 1 }),
        ];
        expect(new Set(keys).size).toBe(4);
      }),
    );
  });

  it("separates rooms whose ids differ by a separator character", () => {
    fc.assert(
      fc.property(
        fc.oneof(v12RoomId, classicRoomId),
        fc.constantFrom(...SEPARATOR_CHARS),
        fc.constantFrom(...SEPARATOR_CHARS),
        (room, s1, s2) => {
          fc.pre(s1 !== s2);
          expect(encodeThreadKey({ roomId: room + s1, generation: 0 })).not.toBe(
            encodeThreadKey({ roomId: room + s2, generation: 0 }),
          );
        },
      ),
    );
  });
});

describe("thread keys: decoding anything else", () => {
  it("returns undefined for garbage and never throws", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), userId, roomId, eventId), (s) => {
        const decoded = decodeThreadKey(s);
        if (decoded !== undefined) expect(encodeThreadKey(decoded)).toBe(s);
        expect(isThreadKey(s)).toBe(decoded !== undefined);
      }),
      { numRuns: 2000 },
    );
  });

  it("accepts a damaged key only if it is itself a canonical key", () => {
    fc.assert(
      fc.property(threadRef, fc.nat(), fc.string({ maxLength: 3 }), fc.nat({ max: 3 }), (parts, at, insert, cut) => {
        const key = encodeThreadKey(parts);
        const i = at % (key.length + 1);
        const damaged = key.slice(0, i) + insert + key.slice(i + cut);
        const decoded = decodeThreadKey(damaged);
        if (decoded !== undefined) expect(encodeThreadKey(decoded)).toBe(damaged);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    "",
    "v1.",
    "v1.abc",
    "v1.abc~0",
    "v1.abc~g",
    "v1.abc~g01",
    "v1.abc~g-1",
    "v1.abc~g1.5",
    "v1.abc~g99999999999999999999",
    "v1.~g0",
    "v1.abc~g0~",
    "v1.abc~g0~x~y",
    "v1.abc_3aexample.org~g0", // lowercase hex is not canonical
    "v1._41bc~g0", // "A" must not be escaped
    "v1.abc_3~g0",
    "v1._FF~g0", // not UTF-8
    "v1._ED_A0_80~g0", // an encoded surrogate
    "V1.abc~g0",
    "v2.abc~g0",
    "!abc:example.org",
    "abc~g0",
  ])("rejects %j", (s) => {
    expect(decodeThreadKey(s)).toBeUndefined();
    expect(isThreadKey(s)).toBe(false);
  });

  it("rejects non-strings without throwing", () => {
    for (const value of [undefined, null, 42, {}, ["v1.abc~g0"], Symbol("k")]) {
      expect(decodeThreadKey(value as unknown as string)).toBeUndefined();
      expect(isThreadKey(value)).toBe(false);
    }
  });
});

describe("thread keys: encoding invalid input", () => {
  it.each<[string, ThreadKeyParts]>([
    ["empty room id", { roomId: "", generation: 0 }],
    ["bare sigil", { roomId: "!", generation: 0 }],
    ["room alias", { roomId: "#room:example.org", generation: 0 }],
    ["user id as room", { roomId: "@u:example.org", generation: 0 }],
    ["lone surrogate", { roomId: "!a\uD800b:x", generation: 0 }],
    ["negative generation", { roomId: "!a:x", generation: -1 }],
    ["fractional generation", { roomId: "!a:x", generation: 1.5 }],
    ["NaN generation", { roomId: "!a:x", generation: Number.NaN }],
    ["unsafe generation", { roomId: "!a:x", generation: 2 ** 53 }],
    ["empty thread root", { roomId: "!a:x", threadRootId: "", generation: 0 }],
    ["thread root without $", { roomId: "!a:x", threadRootId: "!a:x", generation: 0 }],
  ])("throws a TypeError for %s", (_what, parts) => {
    expect(() => encodeThreadKey(parts)).toThrow(TypeError);
  });
});
