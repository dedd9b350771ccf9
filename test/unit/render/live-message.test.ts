// One agent message rendered live: first text after a short hold (at once with firstPostHoldMs 0), coalesced edits, the live marker until the final edit,
// the edit budget, and a message that outgrows one event frozen at a block boundary and continued.
import { LiveMessage } from "../../../src/render/live-message";
import { LIVE_MARKER, liveEdit, segmentContent } from "../../../src/render/live-content";
import { RateLimitGate } from "../../../src/render/pacing";
import { liveContext, RecordingRoom, waitUntil } from "./support";
import { expectSteady } from "../../support/wait";

const paragraphs = (n: number, words = 60): string =>
  Array.from({ length: n }, (_, i) => `P${i} ${"word ".repeat(words).trim()}.`).join("\n\n");

test("a 200 KB answer streamed in big deltas ends as messages that each fit, with nothing lost and nothing live", async () => {
  const room = new RecordingRoom();
  const message = new LiveMessage(liveContext(room), 0);
  const text = paragraphs(600);
  for (let i = 0; i < text.length; i += 16_384) message.update(text.slice(0, i + 16_384));
  await message.finish(text);
  const msgs = room.messages();
  expect(msgs.every((m) => !m.live)).toBe(true);
  for (const e of room.events) expect(Buffer.byteLength(JSON.stringify(e.content))).toBeLessThan(60_000);
  expect(msgs.map((m) => String(m.content["body"])).join("\n\n")).toBe(text);
  expect(msgs.length).toBeGreaterThan(3);
});

test("the first text is posted at once, marked live; the final edit is not marked", async () => {
  const room = new RecordingRoom();
  const message = new LiveMessage(liveContext(room), 0);
  message.update("Hello");
  await waitUntil(() => room.events.length === 1, "the first post");
  expect(room.events[0]?.content).toMatchObject({ body: "Hello", [LIVE_MARKER]: {} });
  message.update("Hello world");
  await message.finish("Hello world, done.");
  const last = room.events.at(-1)?.content ?? {};
  expect(last["m.new_content"]).toMatchObject({ body: "Hello world, done." });
  expect(last["m.new_content"]).not.toHaveProperty(LIVE_MARKER);
  expect(last).not.toHaveProperty(LIVE_MARKER);
});

test("the first post waits firstPostHoldMs: an answer finished meanwhile is posted whole, a longer one live", async () => {
  const room = new RecordingRoom();
  const whole = new LiveMessage(liveContext(room, { options: { firstPostHoldMs: 60_000 } }), 0);
  whole.update("Hel");
  await new Promise((resolve) => setTimeout(resolve, 50)); // time enough to post, were it not held
  whole.update("Hello");
  await whole.finish("Hello, all of it."); // within the hold: one event, not live, no edit
  expect(room.events).toHaveLength(1);
  expect(room.events[0]?.content).toMatchObject({ body: "Hello, all of it." });
  expect(room.events[0]?.content).not.toHaveProperty(LIVE_MARKER);

  const other = new RecordingRoom();
  const live = new LiveMessage(liveContext(other, { options: { firstPostHoldMs: 20 } }), 0);
  live.update("Still writing");
  await waitUntil(() => other.events.length === 1, "the first post after the hold");
  expect(other.events[0]?.content).toMatchObject({ body: "Still writing", [LIVE_MARKER]: {} });
  await live.finish("Still writing, done.");
  expect(other.messages().map((m) => m.content["body"])).toEqual(["Still writing, done."]);
});

test("edits are coalesced: one send at a time, each with the latest text, never a queue of stale ones", async () => {
  const room = new RecordingRoom();
  room.delayMs = 30; // a slow homeserver
  const message = new LiveMessage(liveContext(room), 0);
  let text = "";
  for (let i = 0; i < 200; i += 1) {
    text += `w${i} `;
    message.update(text);
    if (i % 20 === 0) await new Promise((r) => setTimeout(r, 10));
  }
  await message.finish(text);
  const [only] = room.messages();
  expect(room.messages()).toHaveLength(1);
  expect(only?.content["body"]).toBe(text.trim());
  expect(room.events.length).toBeLessThan(40); // 200 updates, far fewer sends
  // Each edit shows more than the one before (the latest text when it went), none repeats an older state.
  const bodies = room.events.map((e) => String((e.content["m.new_content"] as Record<string, unknown> | undefined)?.["body"] ?? e.content["body"]));
  for (let i = 1; i < bodies.length; i += 1) expect((bodies[i] ?? "").length).toBeGreaterThan((bodies[i - 1] ?? "").length);
});

test("at most maxEdits edits per message, its final edit included; then the text waits for the final edit", async () => {
  const room = new RecordingRoom();
  const message = new LiveMessage(liveContext(room, { options: { maxEdits: 5 } }), 0);
  let text = "start";
  message.update(text);
  for (let i = 0; i < 30; i += 1) {
    await waitUntil(() => room.events.length >= Math.min(1 + i, 4) , "an edit");
    text += ` more${i}`;
    message.update(text);
  }
  await message.finish(`${text} end.`);
  const [only] = room.messages();
  expect(only?.edits.length).toBeLessThanOrEqual(5);
  expect(only?.content["body"]).toBe(`${text} end.`);
  expect(only?.live).toBe(false);
});

test("edits wait for the edit interval and for the last retry_after_ms (a clock the test moves)", async () => {
  const room = new RecordingRoom();
  let now = 1_000_000;
  const ctx = liveContext(room, { now: () => now, gate: new RateLimitGate(() => now),
    options: { editIntervalMs: 10_000_000, slowEditIntervalMs: 10_000_000 } });
  const message = new LiveMessage(ctx, 0);
  message.update("one");
  await waitUntil(() => room.events.length === 1, "the first post");
  message.update("one two");
  await expectSteady(() => waitUntil(() => message.held, "the edit held"),
    () => expect(room.events).toHaveLength(1)); // the interval has not passed
  now += 10_000_000;
  ctx.gate.note(5_000); // the homeserver said: retry after 5 s
  message.update("one two three");
  await expectSteady(() => waitUntil(() => message.held, "the edit held"),
    () => expect(room.events).toHaveLength(1)); // interval passed, retry_after_ms not
  now += 5_000;
  message.update("one two three four");
  await waitUntil(() => room.events.length === 2, "the edit");
  expect(room.events[1]?.content["m.new_content"]).toMatchObject({ body: "one two three four", [LIVE_MARKER]: {} });
  await message.finish("one two three four.");
});

test("a message run again after a restart continues its Matrix message and its edit count", async () => {
  const room = new RecordingRoom();
  const ctx = liveContext(room);
  const first = new LiveMessage(ctx, 0);
  first.update("partial");
  await waitUntil(() => room.events.length === 1, "the first post");
  first.update("partial, more");
  await waitUntil(() => room.events.length === 2, "an edit");
  // The process dies here (no finish). The turn runs again with the same run id: same txnIds, same store.
  const again = new LiveMessage(ctx, 0);
  again.update("Whole answer, this time");
  await again.finish("Whole answer, this time, complete.");
  const msgs = room.messages();
  expect(msgs).toHaveLength(1);
  expect(msgs[0]?.content["body"]).toBe("Whole answer, this time, complete.");
  expect(msgs[0]?.live).toBe(false);
  const txnIds = room.events.map((e) => e.txnId);
  expect(new Set(txnIds).size).toBe(txnIds.length); // edit numbering went on: no txnId reused for new content
  expect(await ctx.store.list()).toEqual([]);
});

test("encrypted rooms: the ciphertext is what must fit, so a message is frozen earlier than in the clear", async () => {
  const sizes = async (encrypted: boolean): Promise<number> => {
    const room = new RecordingRoom();
    const message = new LiveMessage(liveContext(room, { encrypted }), 0);
    const text = paragraphs(150);
    message.update(text);
    await message.finish(text);
    expect(room.messages().map((m) => String(m.content["body"])).join("\n\n")).toBe(text);
    return room.messages().length;
  };
  expect(await sizes(true)).toBeGreaterThan(await sizes(false));
});

test("what is sent is what segmentContent makes of the text: a short answer whole, a live one's final edit (rendered once for sizing and sending)", async () => {
  for (const isDirect of [true, false]) {
    const room = new RecordingRoom();
    const ctx = liveContext(room);
    const target = { ...ctx.target, isDirect };
    await new LiveMessage({ ...ctx, target }, 0).finish("ok **now**");
    expect(room.events.map((e) => e.content)).toStrictEqual([segmentContent("ok **now**", target, true).content]);

    const liveRoom = new RecordingRoom();
    const live = new LiveMessage({ ...liveContext(liveRoom), target }, 0);
    live.update("Hello");
    await waitUntil(() => liveRoom.events.length === 1, "the first post");
    await live.finish("Hello, *done*.");
    const first = liveRoom.events[0];
    const final = segmentContent("Hello, *done*.", target, true).content;
    expect(final).toBeDefined();
    expect(liveRoom.events.at(-1)?.content).toStrictEqual(liveEdit(first?.event_id ?? "", final ?? {}, false));
  }
});
