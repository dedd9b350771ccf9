// Late room keys, as a person with a real encrypting client sees them: matrix-js-sdk 34 with its Rust crypto (a child
// process) and the built bot (a child process, MATRIX_E2EE=true) against the homeserver double, which holds back the
// to-device messages for the bot's device (the room key) as long as a test says. The message is answered once its
// key comes, exactly once, and the room's notice is edited to say it was read after all: with the bot running,
// across a restart while the message waits, and across a SIGKILL between reading the message and answering it.
// Also: a second process on the same crypto store stops with a clear error.
import { randomBytes } from "node:crypto";
import path from "node:path";
import pino from "pino";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { botEnv, ChildBot, makeDataDir, removeDir } from "../../support/bot-harness";
import { JsSdkPeer, type PeerMessage } from "../../support/js-sdk-peer";
import { MemoryAgentJournal, echoReplyFor, startReferenceAgent, type ReferenceAgent } from "../../../src/reference-agent/server";
import { createEchoBrain } from "../../../src/reference-agent/brain";
import { UNDECRYPTABLE_NOTICE } from "../../../src/matrix/crypto";
import { NOTICE_WITHDRAWN } from "../../../src/rooms/encrypted-notice";
import { INTRO_MARKER } from "../../../src/rooms/lifecycle/records";
import { foldEdits } from "../../support/bot-messages";
import { waitForBotSettled } from "../../support/bot-idle";
import { scaled } from "../../support/wait";

jest.setTimeout(scaled(120_000));

/** How late the room key comes: the "a message whose key arrives 5 s late" (a scenario, not a timing assertion). */
const KEY_LATE_MS = 5_000;

describe("a message whose room key arrives late", () => {
  let hs: Homeserver;
  let dataDir: string;
  let agent: ReferenceAgent;
  let env: Record<string, string>;
  let botUserId: string;
  let alice: JsSdkPeer;
  let bot: ChildBot;
  const bots: ChildBot[] = [];

  const startBot = async (extra: Record<string, string> = {}): Promise<ChildBot> => {
    bot = new ChildBot({ ...env, ...extra });
    bots.push(bot);
    return bot.ready(20_000);
  };
  /** The bot's messages as Alice's client shows them (edits folded in), without its one-time introduction. */
  const fromBot = (messages: PeerMessage[]) => foldEdits(messages
    .filter((m) => m.sender === botUserId && m.content[INTRO_MARKER] !== true).map((m) => ({ ...m, event_id: m.eventId })))
    .filter((m) => !m.live);
  const bodies = async (roomId: string): Promise<string[]> => fromBot(await alice.messages(roomId)).map((m) => String(m.content["body"]));
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${bot.httpPort}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`matrix_agent_bot_${name} `));
    return Number(line?.split(" ")[1] ?? NaN);
  };

  /** A new encrypted DM with the bot; the room key of Alice's next message is held back from the bot's device. */
  const dmWithKeyHeldBack = async (): Promise<string> => {
    const room = await alice.createEncryptedRoom({ invite: [botUserId], isDirect: true });
    await alice.waitMember(room, botUserId, "join");
    hs.holdToDevice(botUserId);
    return room;
  };
  /** Alice's message, unreadable for the bot: its one notice shows, and the room key is what the double holds back. */
  const sendUnreadable = async (room: string, text: string): Promise<void> => {
    await alice.send(room, text);
    await alice.waitMessages(room, (ms) => fromBot(ms).some((m) => m.content["body"] === UNDECRYPTABLE_NOTICE), "the notice");
    expect(hs.heldToDevice(botUserId)).toContain("m.room.encrypted"); // the Olm-encrypted m.room_key
  };
  /** After the key came: the answer, once, and the notice (the only other message) edited to say so. */
  const expectAnsweredOnceAndNoticeWithdrawn = async (room: string, text: string): Promise<void> => {
    const answer = echoReplyFor(text);
    await alice.waitMessages(room, (ms) => fromBot(ms).some((m) => m.content["body"] === answer), "the answer, once the key came");
    await alice.waitMessages(room, (ms) => fromBot(ms).some((m) => m.content["body"] === NOTICE_WITHDRAWN), "the notice, withdrawn by an edit");
    await waitForBotSettled(hs, { syncUserId: botUserId }, bot);
    const posted = hs.sent({ roomId: room, sender: botUserId, type: "m.room.encrypted" }).map((e) => e.event_id);
    await alice.waitMessages(room, (ms) => posted.every((id) => ms.some((m) => m.eventId === id)), "Alice's client showing all the bot posted");
    expect(await bodies(room)).toEqual([NOTICE_WITHDRAWN, answer]);
    const edits = fromBot(await alice.messages(room)).find((m) => m.content["body"] === NOTICE_WITHDRAWN)?.edits ?? [];
    expect(edits.map((e) => e.content["m.relates_to"])).toEqual([expect.objectContaining({ rel_type: "m.replace" })]);
  };

  beforeAll(async () => {
    hs = await startHomeserver({ serverName: "localhost" });
    dataDir = makeDataDir();
    const token = randomBytes(16).toString("hex");
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token, logger: pino({ level: "silent" }),
      mode: { kind: "custom", brain: createEchoBrain() }, journal: new MemoryAgentJournal() });
    const account = hs.addUser("bot", { displayName: "Agent Bot" });
    botUserId = account.userId;
    env = botEnv({ homeserverUrl: hs.url, accessToken: account.accessToken, dataDir,
      extra: { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: `pp-${randomBytes(12).toString("hex")}`, AGENT_URL: agent.url, AGENT_TOKEN: token } });
    const aliceCreds = hs.addUser("alice", { displayName: "Alice" });
    alice = new JsSdkPeer({ hsUrl: hs.url, ...aliceCreds });
    await alice.start();
    await startBot();
  });

  afterAll(async () => {
    await alice?.stop();
    for (const b of bots.splice(0)) await b.stop(); // also checks the output for secrets and unhandled rejections
    await agent?.close();
    await hs?.close();
    removeDir(dataDir);
  });

  it("answers a message whose key arrives 5 s late once, and withdraws its notice by an edit", async () => {
    const room = await dmWithKeyHeldBack();
    await sendUnreadable(room, "hello, late key");
    expect(await metric("undecryptable_held")).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, KEY_LATE_MS)); // the key stays held back 5 s (the scenario)
    expect(hs.releaseToDevice(botUserId)).toBeGreaterThan(0);
    await expectAnsweredOnceAndNoticeWithdrawn(room, "hello, late key");
    expect(await metric("late_decryptions_total")).toBe(1);
    expect(await metric('undecryptable_events_total{cause="missing_key"}')).toBe(1);
    expect(await metric("undecryptable_held")).toBe(0);
  });

  it("keeps a message waiting for its key across a restart, and answers it once when the key comes after it", async () => {
    const room = await dmWithKeyHeldBack();
    await sendUnreadable(room, "still waiting for my key");
    bot.kill("SIGKILL");
    expect(await bot.exited).toEqual({ code: null, signal: "SIGKILL" });
    await startBot();
    await waitForBotSettled(hs, { syncUserId: botUserId }, bot); // up, caught up, and the message still unread
    expect(await bodies(room)).toEqual([UNDECRYPTABLE_NOTICE]);
    expect(hs.releaseToDevice(botUserId)).toBeGreaterThan(0);
    await expectAnsweredOnceAndNoticeWithdrawn(room, "still waiting for my key");
  });

  it("answers once when killed between reading the late message and answering it", async () => {
    await bot.stop();
    await startBot({ MAB_TEST_CRASH_AT: "late-key-reopened" });
    const room = await dmWithKeyHeldBack();
    await sendUnreadable(room, "read me, then crash");
    const crashing = bot;
    expect(hs.releaseToDevice(botUserId)).toBeGreaterThan(0);
    expect(await crashing.exited).toEqual({ code: null, signal: "SIGKILL" }); // read and reopened, not answered
    await startBot();
    await expectAnsweredOnceAndNoticeWithdrawn(room, "read me, then crash");
  });

  it("refuses a second process on the same crypto store with a clear error (one identity per account)", async () => {
    // Its own room store, so only the crypto store is shared.
    const second = new ChildBot({ ...env, STORE_URL: `sqlite://${path.join(dataDir, "second.sqlite")}` });
    bots.push(second);
    const exit = await second.exited;
    expect(exit.code).not.toBe(0);
    const output = [...second.logs.raw, ...second.stderr].join("\n");
    expect(output).toMatch(/crypto store is locked by process \d+/);
    expect((await fetch(`http://127.0.0.1:${bot.httpPort}/readyz`)).status).toBe(200); // the first bot runs on
  });
});
