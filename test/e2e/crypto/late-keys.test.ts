// Late room keys in client mode, as a person with a real encrypting client sees them: matrix-js-sdk 34 with its Rust
// crypto (a child process) and the built bot (a child process, MATRIX_E2EE=true) against the homeserver double, which
// holds back the to-device messages for the bot's device (the room key) as long as a test says. The message is
// answered once its key comes, exactly once, and the room's notice is edited to say it was read after all: with the
// bot running, across a restart while the message waits, and across a SIGKILL between reading the message and
// answering it. Also: a second process on the same crypto store stops with a clear error.
import { randomBytes } from "node:crypto";
import path from "node:path";
import pino from "pino";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { botEnv, ChildBot, makeDataDir, removeDir } from "../../support/bot-harness";
import { JsSdkPeer } from "../../support/js-sdk-peer";
import { MemoryAgentJournal, startReferenceAgent, type ReferenceAgent } from "../../../src/reference-agent/server";
import { createEchoBrain } from "../../../src/reference-agent/brain";
import { UNDECRYPTABLE_NOTICE } from "../../../src/matrix/crypto";
import { waitForBotSettled } from "../../support/bot-idle";
import { scaled } from "../../support/wait";
import { botBodies, botMetric, expectAnsweredOnceAndNoticeWithdrawn, holdBotKeys, sendUnreadable, type LateKeyScene } from "./late-keys-support";

jest.setTimeout(scaled(120_000));

/** How late the room key comes: the "a message whose key arrives 5 s late" (a scenario, not a timing assertion). */
const KEY_LATE_MS = 5_000;

describe("client mode: a message whose room key arrives late", () => {
  let hs: Homeserver;
  let dataDir: string;
  let agent: ReferenceAgent;
  let env: Record<string, string>;
  let bot: ChildBot;
  let scene: LateKeyScene;
  const bots: ChildBot[] = [];

  const startBot = async (extra: Record<string, string> = {}): Promise<ChildBot> => {
    bot = new ChildBot({ ...env, ...extra });
    bots.push(bot);
    return bot.ready(20_000);
  };
  /** A new encrypted DM with the bot, the room key of Alice's next message held back. */
  const dmWithKeyHeldBack = async (): Promise<string> => {
    const room = await scene.alice.createEncryptedRoom({ invite: [scene.botUserId], isDirect: true });
    await scene.alice.waitMember(room, scene.botUserId, "join");
    holdBotKeys(scene);
    return room;
  };

  beforeAll(async () => {
    hs = await startHomeserver({ serverName: "localhost" });
    dataDir = makeDataDir();
    const token = randomBytes(16).toString("hex");
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token, logger: pino({ level: "silent" }),
      mode: { kind: "custom", brain: createEchoBrain() }, journal: new MemoryAgentJournal() });
    const account = hs.addUser("bot", { displayName: "Agent Bot" });
    env = botEnv({ homeserverUrl: hs.url, accessToken: account.accessToken, dataDir,
      extra: { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: `pp-${randomBytes(12).toString("hex")}`, AGENT_URL: agent.url, AGENT_TOKEN: token } });
    const alice = new JsSdkPeer({ hsUrl: hs.url, ...hs.addUser("alice", { displayName: "Alice" }) });
    scene = { hs, alice, botUserId: account.userId, inbound: { syncUserId: account.userId }, bot: () => bot };
    await alice.start();
    await startBot();
  });

  afterAll(async () => {
    await scene?.alice.stop();
    for (const b of bots.splice(0)) await b.stop(); // also checks the output for secrets and unhandled rejections
    await agent?.close();
    await hs?.close();
    removeDir(dataDir);
  });

  it("answers a message whose key arrives 5 s late once, and withdraws its notice by an edit", async () => {
    const room = await dmWithKeyHeldBack();
    await sendUnreadable(scene, room, "hello, late key");
    expect(await botMetric(scene, "undecryptable_held")).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, KEY_LATE_MS)); // the key stays held back 5 s (the scenario)
    expect(hs.releaseToDevice(scene.botUserId)).toBeGreaterThan(0);
    await expectAnsweredOnceAndNoticeWithdrawn(scene, room, "hello, late key");
    expect(await botMetric(scene, "late_decryptions_total")).toBe(1);
    expect(await botMetric(scene, 'undecryptable_events_total{cause="missing_key"}')).toBe(1);
    expect(await botMetric(scene, "undecryptable_held")).toBe(0);
  });

  it("keeps a message waiting for its key across a restart, and answers it once when the key comes after it", async () => {
    const room = await dmWithKeyHeldBack();
    await sendUnreadable(scene, room, "still waiting for my key");
    bot.kill("SIGKILL");
    expect(await bot.exited).toEqual({ code: null, signal: "SIGKILL" });
    await startBot();
    await waitForBotSettled(hs, scene.inbound, bot); // up, caught up, and the message still unread
    expect(await botBodies(scene, room)).toEqual([UNDECRYPTABLE_NOTICE]);
    expect(hs.releaseToDevice(scene.botUserId)).toBeGreaterThan(0);
    await expectAnsweredOnceAndNoticeWithdrawn(scene, room, "still waiting for my key");
  });

  it("answers once when killed between reading the late message and answering it", async () => {
    await bot.stop();
    await startBot({ MAB_TEST_CRASH_AT: "late-key-reopened" });
    const room = await dmWithKeyHeldBack();
    await sendUnreadable(scene, room, "read me, then crash");
    const crashing = bot;
    expect(hs.releaseToDevice(scene.botUserId)).toBeGreaterThan(0);
    expect(await crashing.exited).toEqual({ code: null, signal: "SIGKILL" }); // read and reopened, not answered
    await startBot();
    await expectAnsweredOnceAndNoticeWithdrawn(scene, room, "read me, then crash");
  });

  it("refuses a second process on the same crypto store with a clear error (one identity per account)", async () => {
    // Its own room store, so only the crypto store is shared.
    const second = new ChildBot({ ...env, STORE_URL: `sqlite://${path.join(dataDir, "second.sqlite")}` });
    bots.push(second);
    const exit = await second.exited;
    expect(exit.code).not.toBe(0);
    expect([...second.logs.raw, ...second.stderr].join("\n")).toMatch(/crypto store is locked by process \d+/);
    expect((await fetch(`http://127.0.0.1:${bot.httpPort}/readyz`)).status).toBe(200); // the first bot runs on
  });
});
