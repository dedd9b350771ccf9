// After a restart no message stays live: the final edit the outbox already holds is left to it; any other live
// message gets an edit keeping its last text, with "(interrupted)"; a turn that runs again takes its message over.
import Keyv from "keyv";
import { LIVE_MARKER, markLive } from "../../../src/render/live-content";
import { LiveMessage } from "../../../src/render/live-message";
import { INTERRUPTED_RECORD_TTL_MS, recoverLiveMessages } from "../../../src/render/live-recovery";
import { LiveStore, type LiveRecord } from "../../../src/render/live-store";
import { waitFor } from "../../support/wait";
import { liveContext, RecordingRoom, silent, waitUntil } from "./support";

function record(key: string, over: Partial<LiveRecord> = {}): LiveRecord {
  return { key, roomId: "!room:x", runId: "$run", eventId: `$orig-${key}`, initial: markLive({ msgtype: "m.text", body: "Hel", "m.mentions": { user_ids: ["@alice:x"] } }),
    text: "Hello wor", msgtype: "m.text", edits: 3, updatedAt: 1, ...over };
}

function world(recorded: string[] = []) {
  const room = new RecordingRoom();
  const store = new LiveStore(new Keyv(), silent);
  const deps = { store, log: silent, now: () => 10_000_000_000, isRecorded: async (txnId: string) => recorded.includes(txnId),
    send: (_roomId: string, content: Record<string, unknown>, txnId: string) => room.send(content, txnId) };
  return { room, store, deps };
}

test("a live message gets an edit keeping its last text plus \"(interrupted)\", unmarked, mentioning nobody anew", async () => {
  const { room, store, deps } = world();
  await store.put(record("k1"));
  expect(await recoverLiveMessages(deps)).toBe(1);
  expect(room.events).toHaveLength(1);
  const edit = room.events[0]?.content ?? {};
  expect(edit["m.relates_to"]).toEqual({ rel_type: "m.replace", event_id: "$orig-k1" });
  expect(edit["m.new_content"]).toMatchObject({ body: "Hello wor\n\n(interrupted)", "m.mentions": { user_ids: ["@alice:x"] } });
  expect(edit["m.new_content"]).not.toHaveProperty(LIVE_MARKER);
  expect(edit["m.mentions"]).toEqual({});
  expect(room.events[0]?.txnId).toBe("k1.interrupted");
  // The record stays (a turn run again continues the message), marked: a second start does nothing more.
  expect((await store.get("k1"))?.interruptedAt).toBeDefined();
  expect(await recoverLiveMessages(deps)).toBe(0);
  expect(room.events).toHaveLength(1);
});

test("a message whose final edit the outbox already holds is left to the outbox", async () => {
  const { room, store, deps } = world(["k2.final"]);
  await store.put(record("k2"));
  expect(await recoverLiveMessages(deps)).toBe(0);
  expect(room.events).toEqual([]);
  expect(await store.get("k2")).toBeUndefined();
});

test("a first event never handed to the outbox showed nothing: its record goes; one still pending gets its event id first", async () => {
  const { room, store, deps } = world(["k4"]);
  await store.put(record("k3", { eventId: undefined }));
  await store.put(record("k4", { eventId: undefined }));
  expect(await recoverLiveMessages(deps)).toBe(1);
  expect(await store.get("k3")).toBeUndefined();
  // k4: its first event went out again under its txnId (a homeserver dedupes it), then the interrupted edit.
  expect(room.events.map((e) => e.txnId)).toEqual(["k4", "k4.interrupted"]);
  expect(room.events[1]?.content["m.relates_to"]).toEqual({ rel_type: "m.replace", event_id: room.events[0]?.event_id });
});

test("records interrupted more than a day ago go", async () => {
  const { store, deps } = world();
  await store.put(record("old", { interruptedAt: deps.now() - INTERRUPTED_RECORD_TTL_MS - 1 }));
  await store.put(record("recent", { interruptedAt: deps.now() - 1000 }));
  await recoverLiveMessages(deps);
  expect((await store.list()).map((r) => r.key)).toEqual(["recent"]);
});

test("a turn that runs again claims its message first: the recovery leaves it to the turn", async () => {
  const { room, store, deps } = world();
  const ctx = liveContext(room, { store, txn: (part) => `t.${part}` });
  await store.put(record("t.m0.s0", { eventId: undefined, text: "Partial" }));
  const again = new LiveMessage(ctx, 0);
  again.update("Partial, then whole");
  const recovery = recoverLiveMessages(deps);
  await again.finish("Partial, then whole.");
  await recovery;
  expect(room.events.some((e) => e.txnId.endsWith(".interrupted"))).toBe(false);
  expect(room.messages().map((m) => [m.live, m.content["body"]])).toEqual([[false, "Partial, then whole."]]);
});

test("a turn continuing a message the recovery marked interrupted edits it even when its text is the same so far", async () => {
  const { room, store } = world();
  const ctx = liveContext(room, { store, txn: (part) => `t.${part}` });
  await store.put(record("t.m0.s0", { text: "Same start", interruptedAt: 5, edits: 2 }));
  const again = new LiveMessage(ctx, 0);
  again.update("Same start");
  await waitUntil(() => room.events.some((e) => e.txnId === "t.m0.s0.e3"), "the edit that removes \"(interrupted)\"");
  expect(room.events.find((e) => e.txnId === "t.m0.s0.e3")?.content["m.new_content"]).toMatchObject({ body: "Same start", [LIVE_MARKER]: {} });
  await again.finish("Same start, and the rest.");
});

test("a live message with the agent's work above its text keeps the work when it is ended \"(interrupted)\"", async () => {
  const room = new RecordingRoom();
  const kv = new Keyv();
  const ctx = liveContext(room, { txn: (part) => `w.${part}`, store: new LiveStore(kv, silent) });
  const message = new LiveMessage(ctx, 0);
  message.setWork({ body: "🔧 search…", html: "<p>🔧 search…</p>" });
  message.update("Half");
  await waitUntil(() => room.events.length === 1, "the live message posted");
  const { deps } = world();
  const recovery = { ...deps, store: new LiveStore(kv, silent), send: (_roomId: string, content: Record<string, unknown>, txnId: string) => room.send(content, txnId) };
  expect(await recoverLiveMessages(recovery)).toBe(1);
  expect(room.messages()[0]?.content).toMatchObject({ body: "🔧 search…\n\nHalf\n\n(interrupted)",
    formatted_body: "<p>🔧 search…</p>\n<p>Half</p>\n<p>(interrupted)</p>" });
});

test("a turn run again after a crash ends in one message: answered whole the first time, live the second", async () => {
  const { room, store } = world();
  const ctx = liveContext(room, { store, txn: (part) => `t.${part}` });
  await new LiveMessage(ctx, 0).finish("The whole answer."); // the first attempt: whole at once, then the crash
  const again = new LiveMessage(ctx, 0);
  again.update("The who");
  const shown = await waitFor(async () => (await store.get("t.m0.s0"))?.eventId, { what: "the second attempt shown live" });
  expect(shown).toBe(room.events[0]?.event_id); // the homeserver gave back the message the first attempt sent
  await again.finish("The whole answer.");
  expect(room.messages().map((m) => [m.live, m.content["body"]])).toEqual([[false, "The whole answer."]]);
});

test("a turn run again after a crash ends in one message: live the first time, whole the second", async () => {
  const { room, store } = world();
  const ctx = liveContext(room, { store, txn: (part) => `t.${part}` });
  new LiveMessage(ctx, 0).update("Parti"); // the first attempt: its first event out live, then the crash
  await waitUntil(() => room.events.length === 1, "the live message posted");
  await new LiveMessage(ctx, 0).finish("Partial, then whole.");
  expect(room.messages().map((m) => [m.live, m.content["body"]])).toEqual([[false, "Partial, then whole."]]);
  expect(await store.get("t.m0.s0")).toBeUndefined();
});
