// The store's namespaces write one key without keyv's per-call wrapping (src/store/store-keyv.ts). Everything an
// adapter and a caller can see stays as keyv 5 does it: compared here against a plain Keyv with the store's options,
// over a recording adapter (what reaches the adapter, and when, counted in microtasks) and over real SQLite (the
// stored rows, and rows written by keyv read back).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Keyv, { type KeyvStoreAdapter } from "keyv";
import pino from "pino";
import { openStore, type Store } from "../../../src/store";
import { NamespaceView } from "../../../src/store/namespace-view";
import { deserializeStoreValue, serializeStoreValue, UnstorableValueError } from "../../../src/store/serialization";
import { StoreKeyv } from "../../../src/store/store-keyv";

type Call = string;

/** An adapter that records each call (and a microtask counter), answers after `ticks` microtasks, and may fail. */
class RecordingAdapter implements KeyvStoreAdapter {
  opts = { dialect: "sqlite", url: "" };
  namespace?: string | undefined;
  readonly calls: Call[] = [];
  readonly rows = new Map<string, unknown>();
  failWith: Error | undefined;
  constructor(private readonly tick: () => number) {}
  private async answer<R>(call: string, result: () => R): Promise<R> {
    this.calls.push(`${call} @${this.tick()}`);
    await Promise.resolve();
    if (this.failWith) throw this.failWith;
    return result();
  }
  get<V>(key: string): Promise<V | undefined> {
    return this.answer(`get ${key}`, () => this.rows.get(key) as V | undefined);
  }
  set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    return this.answer(`set ${key} ${String(value)} ttl=${String(ttl)}`, () => (this.rows.set(key, value), true));
  }
  delete(key: string): Promise<boolean> {
    return this.answer(`delete ${key}`, () => this.rows.delete(key));
  }
  clear(): Promise<void> {
    return Promise.resolve();
  }
  on(): this {
    return this;
  }
}

/** A counter of microtasks: each step queues the next, so reading it says how many have run. */
function microtaskClock(): { now: () => number; stop: () => void } {
  let n = 0;
  let running = true;
  const step = (): void => {
    n += 1;
    if (running && n < 10_000) queueMicrotask(step);
  };
  queueMicrotask(step);
  return { now: () => n, stop: () => { running = false; } };
}

const plainKeyv = <T>(adapter: KeyvStoreAdapter, name: string): Keyv<T> =>
  new Keyv<T>({ store: adapter, namespace: name, useKeyPrefix: false, throwOnErrors: true, serialize: serializeStoreValue,
    deserialize: deserializeStoreValue });

/** Runs the same script over a keyv made by `make`: the adapter's calls (with their microtask), what the caller saw. */
async function script(make: (adapter: KeyvStoreAdapter) => Keyv<unknown>): Promise<{ calls: Call[]; seen: string[] }> {
  const clock = microtaskClock();
  const adapter = new RecordingAdapter(clock.now);
  const view = new NamespaceView(adapter, "outbox", "sqlite");
  const kv = make(view);
  const seen: string[] = [];
  const note = (what: string) => (r: unknown): void => void seen.push(`${what} -> ${JSON.stringify(r)} @${clock.now()}`);
  const buffer = Buffer.from([0, 1, 2, 250]);
  // One tick of writes that keyv reorders (a set reaches the adapter after a delete issued behind it), then more.
  await Promise.all([
    kv.set("a", { text: "hello", n: 1, nested: { colon: ":x", list: [":y", 2] } }).then(note("set a")),
    kv.delete("b").then(note("delete b")),
    kv.set("a", "second").then(note("set a again")),
    kv.delete("a").then(note("delete a")),
    kv.set("c", buffer, 60_000).then(note("set c")),
    kv.set("d", ":colon", 0).then(note("set d")),
    kv.set("e", null).then(note("set e")),
  ]);
  await kv.set("f", [1, "two"]).then(note("set f"));
  await kv.delete("f").then(note("delete f"));
  seen.push(`get c ${JSON.stringify(await kv.get("c"))}`, `get d ${JSON.stringify(await kv.get("d"))}`);
  clock.stop();
  return { calls: adapter.calls.map((c) => c.replace(/"expires":\d+/, '"expires":<t>')), seen };
}

describe("the store's keyv (StoreKeyv) against keyv's own", () => {
  it("reaches the adapter with the same calls, texts and ttls, in the same microtasks, and answers the same", async () => {
    const keyv = await script((view) => plainKeyv(view, "outbox"));
    const ours = await script((view) => new StoreKeyv(view, "outbox"));
    expect(ours.calls).toEqual(keyv.calls);
    expect(ours.seen).toEqual(keyv.seen);
    expect(keyv.calls.length).toBeGreaterThan(8);
  });

  it("fails like keyv: an adapter's error is emitted and thrown, a symbol and an unstorable value are refused", async () => {
    const outcomes = async (make: (a: KeyvStoreAdapter) => Keyv<unknown>): Promise<unknown[]> => {
      const adapter = new RecordingAdapter(() => 0);
      const kv = make(new NamespaceView(adapter, "journal", "sqlite"));
      const emitted: unknown[] = [];
      kv.on("error", (e: unknown) => emitted.push(e instanceof Error ? e.message : e));
      const settle = (p: Promise<unknown>): Promise<string> => p.then((r) => `ok ${String(r)}`, (e: unknown) =>
        `${e instanceof UnstorableValueError ? "unstorable" : "error"} ${e instanceof Error ? e.message : String(e)}`);
      const out: unknown[] = [await settle(kv.set("s", Symbol("x"))), await settle(kv.set("big", { n: 10n }))];
      adapter.failWith = new Error("disk I/O error");
      out.push(await settle(kv.set("k", { a: 1 })), await settle(kv.delete("k")), emitted, adapter.calls.length);
      return out;
    };
    expect(await outcomes((view) => new StoreKeyv(view, "journal"))).toEqual(await outcomes((view) => plainKeyv(view, "journal")));
  });

  it("hands a namespace with hooks or a default ttl to keyv: hooks still run, the ttl still applies", async () => {
    const adapter = new RecordingAdapter(() => 0);
    const kv = new StoreKeyv<string>(new NamespaceView(adapter, "journal", "sqlite"), "journal");
    const hooked: string[] = [];
    kv.hooks.addHandler("preSet", (data: { key: string }) => void hooked.push(`preSet ${data.key}`));
    kv.hooks.addHandler("preDelete", (data: { key: string }) => void hooked.push(`preDelete ${data.key}`));
    await kv.set("x", "1");
    await kv.delete("x");
    expect(hooked).toEqual(["preSet x", "preDelete x"]);
    const timed = new StoreKeyv<string>(new NamespaceView(adapter, "outbox", "sqlite"), "outbox");
    timed.ttl = 5000;
    await timed.set("y", "2");
    expect(adapter.calls.at(-1)).toMatch(/^set outbox:y \{"value":"2","expires":\d+\} ttl=5000/);
  });
});

describe("the store's rows (real SQLite)", () => {
  let dir: string;
  let store: Store | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-store-keyv-"));
  });
  afterEach(async () => {
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("are the rows keyv writes, and rows written by keyv (the previous code) read back the same", async () => {
    const url = `sqlite://${path.join(dir, "bot.sqlite")}`;
    let raw: KeyvStoreAdapter | undefined;
    store = await openStore(url, { logger: pino({ level: "silent" }), wrapAdapter: (a) => (raw = a) });
    const values: Record<string, unknown> = { obj: { body: ":hi", n: [1, { toJSON: "data" }] }, str: "plain", colon: "::x",
      buf: Buffer.from("bytes"), nil: null, num: 42 };
    const ours = store.namespace<unknown>("outbox");
    const theirs = plainKeyv<unknown>(new NamespaceView(raw as KeyvStoreAdapter, "outbox-old", "sqlite"), "outbox-old");
    for (const [key, value] of Object.entries(values)) {
      await ours.set(key, value, key === "num" ? 60_000 : undefined);
      await theirs.set(key, value, key === "num" ? 60_000 : undefined);
    }
    const adapter = raw as KeyvStoreAdapter;
    for (const [key, value] of Object.entries(values)) {
      const mine = await adapter.get<string>(`outbox:${key}`);
      const old = await adapter.get<string>(`outbox-old:${key}`);
      expect(String(mine).replace(/"expires":\d+/, "")).toBe(String(old).replace(/"expires":\d+/, ""));
      // written by keyv, read through the store's keyv: the same value
      const oldThroughOurs = new StoreKeyv<unknown>(new NamespaceView(adapter, "outbox-old", "sqlite"), "outbox-old");
      expect(await oldThroughOurs.get(key)).toEqual(value);
      expect(await ours.get(key)).toEqual(value);
    }
    expect(await ours.delete("str")).toBe(true);
    expect(await ours.delete("str")).toBe(false);
    expect(await ours.get("str")).toBeUndefined();
  });
});
