// What the late-key tests (client and appservice mode) do and check, as Alice's real client (matrix-js-sdk) sees it:
// the double holds back the room key of her next message to the bot's device; the bot's one notice shows; once the key
// is released, the message is answered exactly once and the notice edited (m.replace) to say it was read after all.
import { UNDECRYPTABLE_NOTICE } from "../../../src/matrix/crypto";
import { echoReplyFor } from "../../../src/reference-agent/server";
import { NOTICE_WITHDRAWN } from "../../../src/rooms/encrypted-notice";
import { INTRO_MARKER } from "../../../src/rooms/lifecycle/records";
import { waitForBotSettled, type BotInbound } from "../../support/bot-idle";
import { foldEdits } from "../../support/bot-messages";
import type { Homeserver } from "../../support/homeserver";
import type { JsSdkPeer, PeerMessage } from "../../support/js-sdk-peer";

export interface LateKeyScene {
  hs: Homeserver;
  alice: JsSdkPeer;
  botUserId: string;
  inbound: BotInbound;
  /** The running bot (its /metrics, its idle state). */
  bot(): { readonly httpPort: number | undefined };
}

/** The bot's messages as Alice's client shows them (edits folded in), without its one-time introduction. */
export function botMessages(scene: LateKeyScene, messages: PeerMessage[]) {
  return foldEdits(messages.filter((m) => m.sender === scene.botUserId && m.content[INTRO_MARKER] !== true)
    .map((m) => ({ ...m, event_id: m.eventId }))).filter((m) => !m.live);
}

export async function botBodies(scene: LateKeyScene, roomId: string): Promise<string[]> {
  return botMessages(scene, await scene.alice.messages(roomId)).map((m) => String(m.content["body"]));
}

/** A sample of the running bot's /metrics (name with labels, as printed). */
export async function botMetric(scene: LateKeyScene, sample: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${scene.bot().httpPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`matrix_agent_bot_${sample} `));
  return Number(line?.split(" ")[1] ?? NaN);
}

/** From now on, to-device messages for the bot's device (the room key of Alice's next message) are held back. */
export function holdBotKeys(scene: LateKeyScene): void {
  scene.hs.holdToDevice(scene.botUserId);
}

/** Alice's message, unreadable for the bot: its one notice shows, and the double holds the Olm-encrypted room key. */
export async function sendUnreadable(scene: LateKeyScene, roomId: string, text: string): Promise<void> {
  await scene.alice.send(roomId, text);
  await scene.alice.waitMessages(roomId, (ms) => botMessages(scene, ms).some((m) => m.content["body"] === UNDECRYPTABLE_NOTICE), "the notice");
  expect(scene.hs.heldToDevice(scene.botUserId)).toContain("m.room.encrypted");
}

/** After the key came: the answer, once, and the notice (the only other message of the bot) edited once to say so. */
export async function expectAnsweredOnceAndNoticeWithdrawn(scene: LateKeyScene, roomId: string, text: string): Promise<void> {
  const { alice, hs } = scene;
  const answer = echoReplyFor(text);
  await alice.waitMessages(roomId, (ms) => botMessages(scene, ms).some((m) => m.content["body"] === answer), "the answer, once the key came");
  await alice.waitMessages(roomId, (ms) => botMessages(scene, ms).some((m) => m.content["body"] === NOTICE_WITHDRAWN), "the notice, withdrawn by an edit");
  await waitForBotSettled(hs, scene.inbound, scene.bot());
  const posted = hs.sent({ roomId, sender: scene.botUserId, type: "m.room.encrypted" }).map((e) => e.event_id);
  await alice.waitMessages(roomId, (ms) => posted.every((id) => ms.some((m) => m.eventId === id)), "Alice's client showing all the bot posted");
  const shown = botMessages(scene, await alice.messages(roomId));
  expect(shown.map((m) => m.content["body"])).toEqual([NOTICE_WITHDRAWN, answer]);
  expect(shown[0]?.edits.map((e) => e.content["m.relates_to"])).toEqual([expect.objectContaining({ rel_type: "m.replace" })]);
}
