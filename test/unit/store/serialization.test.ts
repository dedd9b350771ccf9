// The store's serializer: keyv's default format byte for byte (stores written before read the same, and what we
// write reads with keyv's own deserializer), without interpreting any key a Matrix user controls.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { KeyvSqlite } from "@keyv/sqlite";
import fc from "fast-check";
import Keyv from "keyv";
import pino from "pino";
import { openStore, type Store } from "../../../src/store";
import { deserializeStoreValue, serializeStoreValue, UnstorableValueError } from "../../../src/store/serialization";
import { deepJson, hostileContent, hostileJson } from "../../support/hostile-content";

// keyv's own (default) serializer and deserializer, the format every existing store was written in.
const keyvDefault = new Keyv();
const defaultSerialize = (data: unknown): string => keyvDefault.serialize?.(data as never) as string;
const defaultDeserialize = (text: string): unknown => keyvDefault.deserialize?.(text);

/** JSON values with strings that start with ":" (escaped by the format) mixed in. */
const colonJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: "small" },
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(":", "::", ":base64:", ":base64:aGk=", ":x", "a:b"),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(":k", ":base64:k")), tie("value"), { maxKeys: 4 })),
})).value;

describe("store serialization", () => {
  it("writes exactly what keyv's default serializer writes, and reads back what it reads", () => {
    fc.assert(fc.property(colonJson, fc.option(fc.nat(), { nil: undefined }), (value, expires) => {
      const data = { value, expires };
      const text = serializeStoreValue(data);
      expect(text).toBe(defaultSerialize(data));
      expect(deserializeStoreValue(text)).toEqual(defaultDeserialize(text));
    }), { numRuns: 500 });
  });

  it("keeps Buffers in keyv's :base64: form", () => {
    const data = { value: { key: Buffer.from("secret bytes"), note: ":base64:looks like one" } };
    const text = serializeStoreValue(data);
    expect(text).toBe(defaultSerialize(data));
    const back = deserializeStoreValue<typeof data>(text);
    expect(Buffer.isBuffer(back.value.key)).toBe(true);
    expect(back.value.key.toString()).toBe("secret bytes");
    expect(back.value.note).toBe(":base64:looks like one");
  });

  it("stores content with toJSON, __proto__, constructor and then keys as plain data (keyv's own serializer throws)", () => {
    const content = hostileContent("hello");
    expect(() => defaultSerialize({ value: content })).toThrow(/toJSON is not a function/);
    const back = deserializeStoreValue<{ value: Record<string, unknown> }>(serializeStoreValue({ value: content }));
    expect(back.value).toEqual(content);
    expect(Object.getPrototypeOf(back.value)).toBe(Object.prototype);
    expect(Object.keys(back.value)).toContain("__proto__");
    expect(({} as Record<string, unknown>)["toJSON"]).toBeUndefined(); // nothing leaked into Object.prototype
    fc.assert(fc.property(hostileJson, (value) => {
      const text = serializeStoreValue({ value });
      expect(deserializeStoreValue(text)).toEqual(JSON.parse(JSON.stringify({ value }))); // JSON's own round trip (-0 is 0)
    }), { numRuns: 200 });
  });

  it("reads nesting of any depth JSON.parse takes, and says a value is unstorable when JSON.stringify cannot go that deep", () => {
    const deep = JSON.parse(deepJson(100_000)) as unknown;
    const error = ((): unknown => {
      try {
        serializeStoreValue({ value: deep });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(UnstorableValueError);
    expect(deserializeStoreValue<{ value: unknown }>(`{"value":${deepJson(100_000)}}`).value).toBeDefined();
    expect(() => serializeStoreValue({ value: 10n })).toThrow(UnstorableValueError);
  });

  describe("on a real sqlite file", () => {
    let dir: string;
    let store: Store | undefined;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-serialization-"));
    });
    afterEach(async () => {
      await store?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it("reads rows written by keyv's default serializer (a store from before) and writes rows keyv reads", async () => {
      const file = path.join(dir, "bot.sqlite");
      const legacy = new KeyvSqlite({ uri: `sqlite://${file}` });
      const old = { status: "pending", event: { content: { body: ":colon", raw: Buffer.from("x") } }, receivedAt: 5 };
      await legacy.set("journal:old", defaultSerialize({ value: old, expires: undefined }));
      await legacy.disconnect();

      store = await openStore(`sqlite://${file}`, { logger: pino({ level: "silent" }) });
      const journal = store.namespace<typeof old>("journal");
      expect(await journal.get("old")).toEqual(old);
      await journal.set("new", { ...old, receivedAt: 6 });
      await store.close();
      store = undefined;

      const reader = new KeyvSqlite({ uri: `sqlite://${file}` });
      const raw = (await reader.get("journal:new")) as string;
      await reader.disconnect();
      expect(defaultDeserialize(raw)).toEqual({ value: { ...old, receivedAt: 6 } });
    });
  });
});
