// The end-to-end scenarios on Synapse, the same in both modes, in one order on one world per mode: what the person
// sees in matrix-js-sdk, waited on with a deadline; "exactly once" checked on the homeserver's history after the bot
// reports idle (threads.test.ts holds the rest of threads, edits and redactions, and tool lines, in client mode). The
// bot restarts come last: after a SIGKILL Synapse backs off from an appservice (2 s, 4 s, …), and the scenarios after
// them need nothing pushed to it (the bot recovers its journal; fan-out is outbound).
import { writeFileSync } from "node:fs";
import { echoReply } from "../../../src/reference-agent/brain";
import { FAILURE_TEXTS } from "../../../src/turns/failure-text";
import type { Mode } from "./bot";
import type { PeerMessage } from "../../support/js-sdk-peer";
import { pngImage } from "../../support/media-samples";
import { AGENT_PICTURE, PICTURE_TEXT, STREAM_FIRST, STREAM_TEXT } from "./brain";
import { requestsServed } from "./synapse";
import { edit } from "../../e2e/threads/changes-support";
import { isRedacted, messagesBy, ModeWorld, threadOf } from "./world";

const HELP = /^Commands:\n[\s\S]*\/proactive/;
const OPTED_IN = "Proactive messages are now on in this room.";

async function waitUntil(probe: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !probe();) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function percentile(sorted: number[], p: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN);
}

export function describeModeScenarios(mode: Mode): void {
  describe(`${mode} mode on Synapse`, () => {
    let w: ModeWorld;
    let dm = "";
    let group = "";
    let digestRoom = "";

    beforeAll(async () => {
      w = await ModeWorld.open(mode);
    });
    afterAll(async () => {
      await w?.close(); // ChildBot.stop checks each bot process's output for secrets and unhandled rejections
    });

    it("DM: a message is answered once", async () => {
      dm = await w.openDm();
      await w.alice.peer.send(dm, "hello from Element");
      await w.waitAnswer(dm, echoReply("hello from Element"));
      expect(await w.newBotBodies(dm)).toEqual([echoReply("hello from Element")]);
    });

    it("group: answers only a message that mentions it, as a reply to it", async () => {
      group = await w.openGroup();
      await w.alice.peer.send(group, "just chatting with Bob");
      await w.bob.sendText(group, "sure, Alice");
      const asked = await w.alice.peer.sendContent(group, w.mention("what time is it?"));
      const answer = await w.waitAnswer(group, echoReply("Agent Bot: what time is it?"));
      expect(answer.content["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: asked } });
      expect(answer.content["m.mentions"]).toEqual({ user_ids: [w.aliceId] });
      expect(await w.newBotBodies(group)).toEqual([echoReply("Agent Bot: what time is it?")]);
      expect(w.agent.runsOf("just chatting with Bob")).toEqual([]);
    });

    it("commands in the /, ! and @bot forms are answered and never reach the agent", async () => {
      const runsBefore = w.agent.seen.length;
      await w.alice.peer.send(dm, "/help");
      await w.alice.peer.send(dm, "!help");
      await w.alice.peer.sendContent(group, w.mention("help"));
      const helpFromBot = (ms: PeerMessage[]): number => messagesBy(ms, w.botUserId).filter((m) => HELP.test(m.body)).length;
      await w.alice.peer.waitMessages(dm, (ms) => helpFromBot(ms) >= 2, "two help texts in the DM");
      await w.alice.peer.waitMessages(group, (ms) => helpFromBot(ms) >= 1, "the help text in the group");
      expect((await w.newBotBodies(dm)).map((b) => HELP.test(b))).toEqual([true, true]);
      expect((await w.newBotBodies(group)).map((b) => HELP.test(b))).toEqual([true]);
      expect(w.agent.seen.length).toBe(runsBefore);
    });

    it("/proactive on: a proactive result reaches the opted-in rooms once and no other", async () => {
      digestRoom = await w.openGroup("Digests");
      await w.alice.peer.send(dm, "/proactive on");
      await w.alice.peer.send(digestRoom, "!proactive on");
      await w.waitAnswer(dm, OPTED_IN);
      await w.waitAnswer(digestRoom, OPTED_IN);
      const digest = `Digest (${mode} mode): all quiet.`;
      await w.agent.emitProactive("*", digest);
      await w.waitAnswer(dm, digest);
      await w.waitAnswer(digestRoom, digest);
      expect(await w.newBotBodies(dm)).toEqual([OPTED_IN, digest]);
      expect(await w.newBotBodies(digestRoom)).toEqual([OPTED_IN, digest]);
      expect(await w.newBotBodies(group)).toEqual([]);
    });

    it("streaming: the answer is shown as it is written (a live message, then edits) and ends as one message", async () => {
      await w.alice.peer.send(dm, "stream:please");
      const live = await w.alice.peer.waitMessages(dm, (ms) => messagesBy(ms, w.botUserId).find((m) => m.live && m.body.startsWith(STREAM_FIRST.trim())),
        "the first part, live, in Alice's client");
      await waitUntil(() => w.agent.waiting("stream:please"), "the agent holding the rest");
      w.agent.release("stream:please");
      const done = await w.waitAnswer(dm, STREAM_TEXT);
      expect(done.eventId).toBe(live.eventId); // the same message, edited: Alice's client shows the edit in place
      expect(await w.newBotBodies(dm)).toEqual([STREAM_TEXT]);
      const edits = (await w.alice.peer.history(dm)).filter((m) =>
        (m.originalContent["m.relates_to"] as { rel_type?: string; event_id?: string } | undefined)?.event_id === live.eventId);
      // No edit storm: at most one live edit for the part written after the first, and the final edit; none of them
      // mentions anyone again (m.mentions empty: on servers with intentional mentions an edit does not ping).
      expect(edits.length).toBeGreaterThan(0);
      expect(edits.length).toBeLessThanOrEqual(2);
      expect(edits.every((m) => m.sender === w.botUserId && JSON.stringify(m.originalContent["m.mentions"]) === "{}")).toBe(true);
    });

    it("media: an image Alice uploads (Synapse 1.67: the legacy media API) reaches the reference agent, which says what it got", async () => {
      const image = pngImage(8, 8);
      const { url } = await w.alice.peer.sendFile(dm, { msgtype: "m.image", filename: "cat.png", mimetype: "image/png", bytes: image, caption: "look at this" });
      const answer = `You sent an image: cat.png (image/png, ${image.length} bytes)\n${echoReply("look at this")}`;
      await w.waitAnswer(dm, answer);
      expect(await w.newBotBodies(dm)).toEqual([answer]);
      expect(w.agent.runsOf("look at this\n[image: cat.png]")).toHaveLength(1);
      const mediaId = url.replace("mxc://localhost/", "");
      const served = requestsServed(w.run).filter((r) => r.includes(mediaId));
      expect(served).toContain(`GET /_matrix/media/v3/download/localhost/${mediaId}`);
      expect(served.filter((r) => r.includes("/_matrix/client/v1/media/"))).toEqual([]); // 1.67 has no authenticated media
    });

    it("media out: the agent's PNG is uploaded to Synapse and posted as one m.image that downloads identical", async () => {
      await w.alice.peer.send(dm, "picture:chart");
      await w.waitAnswer(dm, PICTURE_TEXT);
      const image = await w.alice.peer.waitMessages(dm, (ms) => ms.find((m) => m.sender === w.botUserId && m.content["msgtype"] === "m.image"),
        "the agent's image");
      expect(image.content).toMatchObject({ body: "chart.png", info: { mimetype: "image/png", size: AGENT_PICTURE.length, w: 48, h: 32 } });
      expect(await w.newBotBodies(dm)).toEqual([PICTURE_TEXT, "chart.png"]);
      const mxc = String(image.content["url"]);
      const res = await fetch(`${w.run.url}/_matrix/media/v3/download/${mxc.replace("mxc://", "")}`);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(AGENT_PICTURE)).toBe(true);
    });

    it("an agent error is told in words, once, and nothing of the agent's message reaches the room", async () => {
      await w.alice.peer.send(dm, "fail:rate_limited");
      await w.waitAnswer(dm, FAILURE_TEXTS.agent_rate_limited);
      expect(await w.newBotBodies(dm)).toEqual([FAILURE_TEXTS.agent_rate_limited]); // nothing of AGENT_ERROR_DETAIL
      expect(w.agent.runsOf("fail:rate_limited")).toHaveLength(1); // the bot never retries a user turn by itself
    });

    it("the agent connection cut mid-run is told in words, the run is not resent, and the next turn works", async () => {
      await w.alice.peer.send(dm, "cut the line");
      await w.waitAnswer(dm, FAILURE_TEXTS.link_lost);
      await w.alice.peer.send(dm, "still there?");
      await w.waitAnswer(dm, echoReply("still there?"));
      expect(await w.newBotBodies(dm)).toEqual([FAILURE_TEXTS.link_lost, echoReply("still there?")]);
      expect(w.agent.runsOf("cut the line")).toHaveLength(1);
    });

    it("threads: a command and a follow-up in a thread are answered there; an edited answered question is answered again in place; a redacted one loses its answer", async () => {
      const room = await w.openGroup("Threads");
      const root = await w.alice.http.sendText(room, "Let's plan the trip"); // not for the bot
      const command = await w.alice.http.sendThreadReply(room, root, "!threads");
      const notice = await w.alice.peer.waitMessages(room, (ms) => messagesBy(ms, w.botUserId).find((m) => /^Threads here: follow/.test(m.body)),
        "the /threads notice");
      expect(notice.content["m.relates_to"]).toEqual({ rel_type: "m.thread", event_id: root, is_falling_back: true, "m.in_reply_to": { event_id: command } });
      await w.alice.http.sendThreadReply(room, root, "Agent Bot: where to?", w.mention("where to?"));
      const asked = await w.waitAnswer(room, echoReply("Agent Bot: where to?"));
      const followUp = await w.alice.http.sendThreadReply(room, root, "and when?"); // no mention: the thread is followed
      const answer = await w.waitAnswer(room, echoReply("and when?"));
      for (const m of [asked, answer]) expect(threadOf(m.content)).toBe(root);
      await w.bot.waitForIdle(); // the run is over: the edit comes after the answer
      await edit(w.alice.http, room, followUp, "and how?");
      const again = await w.waitAnswer(room, echoReply("and how?"));
      expect(again.eventId).toBe(answer.eventId);
      expect(threadOf(again.content)).toBe(root);
      await w.alice.http.redact(room, followUp);
      await w.alice.peer.waitMessages(room, (ms) => ms.find((m) => m.eventId === answer.eventId && isRedacted(m)), "the answer redacted");
      expect(await w.newBotBodies(room)).toEqual([notice.body, echoReply("Agent Bot: where to?")]);
      expect(w.agent.runsOf("and how?")).toHaveLength(1);
    });

    it("invited to a space, joins its two child rooms (public and restricted to the space) and answers there", async () => {
      const peer = w.alice.peer;
      const space = await peer.createRoom({ name: "Team space", preset: "private_chat", creation_content: { type: "m.space" } });
      const open = await peer.createRoom({ name: "Open child", preset: "public_chat" });
      const restricted = await peer.createRoom({ name: "Restricted child", preset: "private_chat", initial_state: [
        { type: "m.room.join_rules", state_key: "", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: space }] } }] });
      for (const child of [open, restricted]) await peer.sendState(space, "m.space.child", child, { via: ["localhost"] });
      await peer.invite(space, w.botUserId);
      await peer.waitMember(space, w.botUserId, "join", 30_000);
      await w.waitIntroduced(open);
      await w.waitIntroduced(restricted);
      await peer.send(restricted, "hello from the restricted child");
      await w.waitAnswer(restricted, echoReply("hello from the restricted child"));
      expect(await w.newBotBodies(restricted)).toEqual([echoReply("hello from the restricted child")]);
      expect(await w.newBotBodies(open)).toEqual([]);
      const inSpace = (await w.alice.peer.history(space)).filter((m) => m.sender === w.botUserId && m.type === "m.room.message");
      expect(inSpace).toEqual([]); // not even an introduction: a space is no place to talk
    });

    it("latency: 20 sequential DM turns (p50/p90 printed for the record, not asserted)", async () => {
      const turns = Array.from({ length: 20 }, (_, i) => `turn ${i + 1}`);
      const times: number[] = [];
      for (const text of turns) times.push(await w.alice.peer.timedTurn(dm, text, w.botUserId, echoReply(text)));
      expect(await w.newBotBodies(dm)).toEqual(turns.map(echoReply));
      const sorted = [...times].sort((a, b) => a - b);
      const record = { mode, turns: times.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), max: Math.round(sorted.at(-1) ?? NaN) };
      writeFileSync(w.run.latencyFile, `${JSON.stringify(record)}\n`, { flag: "a" });
    });

    it("SIGKILL mid-turn, then again right after Synapse accepted the answer: answered once, nothing replayed", async () => {
      await w.alice.peer.send(dm, "hold:through two kills");
      await waitUntil(() => w.agent.runsOf("hold:through two kills").length === 1, "the run at the agent");
      await w.bot.kill(); // mid-turn: the agent holds the run
      await w.bot.start({ MAB_TEST_CRASH_AT: "reply-accepted" }); // recovers the turn, answers, dies once Synapse accepted it
      expect(await w.bot.exited()).toEqual({ code: null, signal: "SIGKILL" });
      await w.bot.start();
      await w.waitAnswer(dm, echoReply("hold:through two kills"));
      expect(await w.newBotBodies(dm)).toEqual([echoReply("hold:through two kills")]);
    });

    it("SIGKILL once Synapse accepted the first event of a live answer: after the restart that message is finished, once", async () => {
      const text = "halfway:killed while live";
      await w.bot.kill();
      await w.bot.start({ MAB_TEST_CRASH_AT: "reply-accepted" }); // dies once the live message's first event is accepted
      await w.alice.peer.send(dm, text);
      expect(await w.bot.exited()).toEqual({ code: null, signal: "SIGKILL" });
      await w.bot.start();
      await w.waitAnswer(dm, echoReply(text));
      expect(await w.newBotBodies(dm)).toEqual([echoReply(text)]);
    });

    it("a proactive result emitted while the bot is down is delivered once to each opted-in room after the restart", async () => {
      await w.bot.kill();
      const missed = `While you were away (${mode} mode): one thing happened.`;
      await w.agent.emitProactive("*", missed);
      await w.bot.start();
      await w.waitAnswer(dm, missed);
      await w.waitAnswer(digestRoom, missed);
      expect(await w.newBotBodies(dm)).toEqual([missed]);
      expect(await w.newBotBodies(digestRoom)).toEqual([missed]);
      expect(await w.newBotBodies(group)).toEqual([]);
    });
  });
}
