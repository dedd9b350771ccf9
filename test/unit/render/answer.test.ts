// A run's answer: the placeholder becomes the live message; it is replaced when no text comes; messages the run
// left unfinished end "(interrupted)"; rooms that do not stream get whole answers (the placeholder edited once).
import { AnswerRenderer, type LiveRendering } from "../../../src/render/answer";
import { LIVE_MARKER } from "../../../src/render/live-content";
import { LiveStore } from "../../../src/render/live-store";
import { LIVE_DEFAULTS, RateLimitGate } from "../../../src/render/pacing";
import Keyv from "keyv";
import { dm, RecordingRoom, silent, waitUntil } from "./support";

function rendering(streams = true): LiveRendering {
  return { streams: async () => streams, encrypted: async () => false, store: new LiveStore(new Keyv(), silent), gate: new RateLimitGate(),
    options: { ...LIVE_DEFAULTS, editIntervalMs: 0, slowEditIntervalMs: 0 } };
}

async function renderer(room: RecordingRoom, live: LiveRendering | undefined): Promise<AnswerRenderer> {
  const sender = { sendEvent: (_roomId: string, _type: string, content: Record<string, unknown>, txnId: string) => room.send(content, txnId) };
  return AnswerRenderer.create(dm, "$run", { sender, log: silent, ...(live ? { live } : {}) }, (part) => `txn.${part}`);
}

test("the placeholder (marked live) becomes the live message; its final edit is the answer, unmarked", async () => {
  const room = new RecordingRoom();
  const r = await renderer(room, rendering());
  await r.postPlaceholder();
  expect(room.events[0]?.content).toMatchObject({ msgtype: "m.notice", body: "…", [LIVE_MARKER]: {} });
  r.onTextStart("a");
  r.onTextProgress("a", "The answer");
  await waitUntil(() => room.events.length === 2, "the placeholder edited with the first text");
  await r.onTextMessage("a", "The answer, whole.");
  await r.finish();
  const msgs = room.messages();
  expect(msgs).toHaveLength(1);
  expect(msgs[0]).toMatchObject({ event_id: "$e0", live: false, content: { msgtype: "m.text", body: "The answer, whole." } });
  expect(r.answered).toBe(1);
});

test("no text: the placeholder becomes the failure text, not live", async () => {
  const room = new RecordingRoom();
  const r = await renderer(room, rendering());
  await r.postPlaceholder();
  await r.finish();
  expect(await r.replacePlaceholder("⚠️ nope")).toBe(true);
  expect(room.messages()).toEqual([expect.objectContaining({ live: false, content: expect.objectContaining({ msgtype: "m.notice", body: "⚠️ nope" }) })]);
});

test("a message the run left unfinished keeps its text and ends \"(interrupted)\", not live", async () => {
  const room = new RecordingRoom();
  const r = await renderer(room, rendering());
  r.onTextStart("a");
  r.onTextProgress("a", "Half of");
  await waitUntil(() => room.events.length === 1, "the first post");
  r.onTextProgress("a", "Half of it");
  await r.finish();
  expect(room.messages()).toEqual([expect.objectContaining({ live: false, content: expect.objectContaining({ body: "Half of it\n\n(interrupted)" }) })]);
});

test("a room that does not stream gets the answer whole: the placeholder edited once, nothing live", async () => {
  for (const live of [rendering(false), undefined]) {
    const room = new RecordingRoom();
    const r = await renderer(room, live);
    await r.postPlaceholder();
    r.onTextStart("a");
    r.onTextProgress("a", "Some");
    await r.onTextMessage("a", "Some answer.");
    await r.finish();
    expect(room.events).toHaveLength(2);
    expect(room.events.some((e) => LIVE_MARKER in e.content)).toBe(false);
    expect(room.messages()[0]?.content).toMatchObject({ body: "Some answer." });
  }
});
