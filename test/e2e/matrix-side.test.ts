// The Matrix side, in both modes: who gets answered, invites, encrypted rooms, rate limits, 5xx, a revoked
// token, and redactions of queued messages. The real bot against the homeserver double.
import { ENCRYPTED_ROOM_NOTICE } from "../../src/rooms/encrypted-notice";
import { echoReplyFor } from "../../src/reference-agent/server";
import type { AgentBrain } from "../../src/reference-agent/brain";
import { expectSteady, waitForBotWork } from "../support/bot-idle";
import { MODES, Scenario } from "../support/scenario";

describe.each(MODES)("%s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("in a group room answers only when mentioned or replied to, as a reply that mentions the asker", async () => {
    s = await Scenario.start({ mode });
    const bob = s.person("bob", "Bob");
    const roomId = await s.openGroup(s.alice, [bob]);

    await s.alice.sendText(roomId, "just chatting with Bob");
    await s.expectSteady(() => expect(s.botMessages(roomId)).toHaveLength(0));

    const pill = `<a href="https://matrix.to/#/${s.botUserId}">Agent Bot</a>: what time is it?`;
    const asked = await s.alice.sendText(roomId, "Agent Bot: what time is it?", {
      format: "org.matrix.custom.html", formatted_body: pill, "m.mentions": { user_ids: [s.botUserId] },
    });
    const [answer] = await s.waitBotMessages(roomId, 1);
    expect(answer?.content["body"]).toBe(echoReplyFor("Agent Bot: what time is it?"));
    expect(answer?.content["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: asked } });
    expect(answer?.content["m.mentions"]).toEqual({ user_ids: [s.alice.userId] });

    // The localpart at the start of a message counts as a mention; a reply to the bot too.
    const localpart = s.botUserId.slice(1).split(":")[0] ?? "";
    await s.alice.sendText(roomId, `${localpart}, second question`);
    await s.waitBotMessages(roomId, 2);
    const replyTo = s.botMessages(roomId)[0]?.event_id ?? "";
    await bob.sendText(roomId, "> <@bot> quoted\n\nand a follow-up", { "m.relates_to": { "m.in_reply_to": { event_id: replyTo } } });
    const msgs = await s.waitBotMessages(roomId, 3);
    expect(msgs[2]?.content["body"]).toBe(echoReplyFor("and a follow-up")); // reply fallback stripped
  });

  it("declines an invite from a user outside ALLOWED_USERS and accepts one from inside", async () => {
    s = await Scenario.start({ mode, env: { ALLOWED_USERS: "@alice:localhost" } });
    const mallory = s.person("mallory", "Mallory");
    const { room_id: bad } = await mallory.createRoom({ is_direct: true, invite: [s.botUserId], preset: "trusted_private_chat" });
    await s.hs.waitFor(() => s.hs.membership(bad, s.botUserId) === "leave", { what: "the invite is declined" });
    const dm = await s.openDm();
    await s.alice.sendText(dm, "hi");
    await s.waitBotMessages(dm, 1);
    expect(s.hs.membership(bad, s.botUserId)).toBe("leave");
  });

  it("accepts an invite that arrived while it was offline, once it is back", async () => {
    s = await Scenario.start({ mode });
    await s.stopBot();
    const { room_id: roomId } = await s.alice.createRoom({ is_direct: true, invite: [s.botUserId], preset: "trusted_private_chat" });
    expect(s.hs.membership(roomId, s.botUserId)).toBe("invite"); // the bot is stopped: nobody answers it meanwhile
    await s.startBot();
    await s.waitJoined(roomId);
    await s.alice.sendText(roomId, "welcome back");
    const [answer] = await s.waitBotMessages(roomId, 1);
    expect(answer?.content["body"]).toBe(echoReplyFor("welcome back"));
  });

  it("posts one notice for three encrypted messages in a room and stays", async () => {
    s = await Scenario.start({ mode });
    const roomId = await s.openDm();
    for (let i = 0; i < 3; i++) {
      await s.alice.send(roomId, "m.room.encrypted", { algorithm: "m.megolm.v1.aes-sha2", ciphertext: `AwgA${i}`, session_id: "s", sender_key: "k", device_id: "D" });
    }
    const [notice] = await s.waitBotMessages(roomId, 1);
    await s.expectSteady(() => expect(s.botMessages(roomId)).toHaveLength(1));
    expect(notice?.content).toMatchObject({ msgtype: "m.notice", body: ENCRYPTED_ROOM_NOTICE });
    expect(s.hs.membership(roomId, s.botUserId)).toBe("join");
  });

  it("waits at least retry_after_ms after each 429 and still delivers the answer once", async () => {
    s = await Scenario.start({ mode });
    const roomId = await s.openDm();
    s.hs.failNext({ method: "PUT", pathIncludes: "/send/m.room.message/", userId: s.botUserId }, { status: 429, errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 300 }, 2);
    const askedAt = s.hs.now();
    await s.alice.sendText(roomId, "rate limited");
    const [answer] = await s.waitBotMessages(roomId, 1);
    expect(answer?.content["body"]).toBe(echoReplyFor("rate limited"));
    // The answer's sends only: under load the introduction's PUT (txnId mab.lc.…, taken before the faults were set)
    // can be recorded after askedAt.
    const sends = s.hs.requests.filter((r) => r.method === "PUT" && r.path.includes("/send/m.room.message/") && !r.path.includes("/mab.lc.")
      && r.userId === s.botUserId && r.at >= askedAt);
    expect(sends.map((r) => r.status)).toEqual([429, 429, 200]);
    for (let i = 1; i < sends.length; i++) {
      expect((sends[i]?.at ?? 0) - (sends[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(300);
    }
    await s.expectSteady(() => expect(s.botMessages(roomId)).toHaveLength(1));
  });

  it("rides out a burst of 5xx answers and delivers the answer once", async () => {
    s = await Scenario.start({ mode });
    const roomId = await s.openDm();
    s.hs.failNext({ method: "PUT", pathIncludes: "/send/", userId: s.botUserId }, { status: 502 }, 3);
    await s.alice.sendText(roomId, "through the storm");
    const [answer] = await s.waitBotMessages(roomId, 1);
    expect(answer?.content["body"]).toBe(echoReplyFor("through the storm"));
    await s.expectSteady(() => expect(s.botMessages(roomId)).toHaveLength(1));
  });

  it("stops sending on M_UNKNOWN_TOKEN with one actionable fatal line and no retry loop", async () => {
    s = await Scenario.start({ mode });
    const roomId = await s.openDm();
    s.hs.revokeToken(s.botToken);
    await s.alice.sendText(roomId, "are you there?");
    const fatal = await s.bot.logs.waitFor((l) => l.level === 60, "the fatal line");
    expect(fatal.msg).toMatch(/M_UNKNOWN_TOKEN.*Fix:/);
    const before = s.hs.requests.filter((r) => r.status === 401).length;
    // An answer would stay in the halted outbox (for the next start), and in client mode the sync loop stopped, so
    // the bot is waited on until nothing is being routed and no turn is running.
    await expectSteady(() => waitForBotWork(s.bot.app, (work) => work["router"] === 0 && work["turns"] === 0), () => {
      expect(s.hs.requests.filter((r) => r.status === 401).length - before).toBeLessThanOrEqual(1);
      expect(s.bot.logs.lines().filter((l) => l.level === 60)).toHaveLength(1);
    });
    expect(s.bot.app.tokenValid).toBe(false);
    const ready = await fetch(`http://127.0.0.1:${s.bot.app.httpPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { notReady: string[] }).notReady).toContain("token");
  });

  it("does not answer a queued message that was redacted before its turn", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[][] = [];
    const brain: AgentBrain = {
      async run(input, out) {
        seen.push(input.messages.map((m) => m.content));
        if (seen.length === 1) await gate;
        const id = out.startMessage();
        out.delta(id, `answered: ${input.messages.map((m) => m.content).join(" + ")}`);
        out.endMessage(id);
      },
    };
    s = await Scenario.start({ mode, brain });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "first");
    await s.hs.waitFor(() => seen.length === 1, { what: "the first run started" });
    await s.alice.sendText(roomId, "keep me");
    const oops = await s.alice.sendText(roomId, "oops, retract this");
    await s.alice.redact(roomId, oops);
    await s.routed(); // the redaction was handled while the first run still holds the thread
    release();
    const msgs = await s.waitBotMessages(roomId, 2);
    expect(msgs.map((m) => m.content["body"])).toEqual(["answered: first", "answered: keep me"]);
  });
});
