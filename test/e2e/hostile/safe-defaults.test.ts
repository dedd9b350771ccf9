// Issue 14, finding 6, safe defaults. What the bot keeps in DATA_DIR (message text in SQLite and its -wal/-shm, the
// embedded agent's memory, crypto snapshots) is readable by its own user only: after a turn, every file is 0600 and
// every folder 0700, whether the process sets the umask (dist/src/main.js) or the app runs in-process with the test
// runner's umask. Without ALLOWED_USERS the bot says once at start whom it serves. A flood of malformed events
// writes a bounded number of log lines.
import { chmodSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { echoReplyFor } from "../../../src/reference-agent/server";
import { botEnv, ChildBot, makeDataDir, removeDir } from "../../support/bot-harness";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";
import { Scenario, type Mode } from "../../support/scenario";
import { scaled } from "../../support/wait";
import type { ClientEvent } from "../../support/homeserver/types";

/** Every entry under `dir` (itself included) whose permission bits are not 0700 (folders) or 0600 (files). */
function wrongModes(dir: string, skip: readonly string[] = []): string[] {
  const wrong: string[] = [];
  const visit = (p: string): void => {
    if (skip.includes(path.basename(p))) return;
    const stat = statSync(p);
    const mode = stat.mode & 0o777;
    if (stat.isDirectory()) {
      if (mode !== 0o700) wrong.push(`${p} ${mode.toString(8)}`);
      for (const name of readdirSync(p)) visit(path.join(p, name));
    } else if (mode !== 0o600) {
      wrong.push(`${p} ${mode.toString(8)}`);
    }
  };
  visit(dir);
  return wrong;
}

function filesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String);
}

describe("DATA_DIR permissions", () => {
  it.each<[Mode, Record<string, string>]>([
    ["client", { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: "a long passphrase for the data dir test" }],
    ["appservice", {}],
  ])("in-process, %s mode: only 0600 files and 0700 folders after a turn and after stopping", async (mode, env) => {
    const s = await Scenario.start({ mode, env });
    try {
      chmodSync(s.dataDir, 0o755); // an operator's folder made with the usual umask: the bot closes it
      const dm = await s.openDm();
      await s.alice.sendText(dm, "anything secret");
      await s.waitBotMessages(dm, 1);
      await s.restartBot(); // the bot's files as it leaves them, and as a second start finds them
      await s.alice.sendText(dm, "again");
      await s.waitBotMessages(dm, 2);
      await s.stopBot();
      const files = filesIn(s.dataDir);
      expect(files).toEqual(expect.arrayContaining(["bot.sqlite", "agent.sqlite"]));
      if (mode === "client") expect(files.some((f) => f.startsWith("crypto"))).toBe(true);
      expect(wrongModes(s.dataDir, ["registration.yaml"])).toEqual([]); // the registration is the test's own file
    } finally {
      await s.stop();
    }
  }, scaled(60_000));

  describe("the bot process (dist/src/main.js, umask 077)", () => {
    let hs: Homeserver;
    let parent: string;
    let bot: ChildBot | undefined;
    afterEach(async () => {
      await bot?.stop();
      await hs?.close();
      removeDir(parent);
    });

    it("creates only 0600 files and 0700 folders", async () => {
      hs = await startHomeserver({ serverName: "localhost" });
      parent = makeDataDir();
      const dataDir = path.join(parent, "data"); // created by the bot
      const account = hs.addUser("bot", { displayName: "Agent Bot" });
      const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
      bot = await new ChildBot(botEnv({ homeserverUrl: hs.url, accessToken: account.accessToken, dataDir })).ready();
      const { room_id: dm } = await alice.createRoom({ is_direct: true, invite: [account.userId], preset: "trusted_private_chat" });
      await hs.waitFor(() => hs.membership(dm, account.userId) === "join", { what: "the bot joins" });
      await alice.sendText(dm, "hello");
      await hs.waitFor(() => hs.sent({ roomId: dm, sender: account.userId, type: "m.room.message" })
        .some((e) => e.content["body"] === echoReplyFor("hello")), { what: "the answer" });
      expect(wrongModes(dataDir)).toEqual([]);
      await bot.stop();
      bot = undefined;
      expect(wrongModes(dataDir)).toEqual([]);
    }, scaled(60_000));
  });
});

describe("defaults", () => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("without ALLOWED_USERS: one warning line at start naming whom the bot serves; none when it is set", async () => {
    s = await Scenario.start({ mode: "client" });
    const warning = (l: { msg?: string }): boolean => String(l.msg).startsWith("ALLOWED_USERS is not set");
    expect(s.bot.logs.lines().filter(warning)).toEqual([expect.objectContaining({ level: 40, allowed: "@*:localhost" })]);
    s.setBotEnv("ALLOWED_USERS", "@alice:localhost");
    await s.restartBot();
    expect(s.bot.logs.lines().filter(warning)).toEqual([]);
  });

  it("a flood of 1,000 malformed events writes a bounded number of log lines, and the bot still answers", async () => {
    s = await Scenario.start({ mode: "appservice" });
    const dm = await s.openDm();
    const flood: ClientEvent[] = Array.from({ length: 1000 }, (_, i) => ({
      type: "m.room.message", room_id: dm, sender: "@mallory:localhost", event_id: `$flood${i}`, origin_server_ts: Date.now(),
      content: "not an object",
    }) as unknown as ClientEvent);
    const { status } = await s.hs.pushTransaction("matrix-agent-bot", flood, { txnId: "flood-1" });
    expect(status).toBe(200);
    await s.alice.sendText(dm, "still there?");
    await s.waitBotMessages(dm, 1);
    await s.expectSteady(() => {
      const lines = s.bot.logs.lines().filter((l) => String(l.msg).startsWith("malformed event"));
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.length).toBeLessThanOrEqual(2);
    });
  });
});
