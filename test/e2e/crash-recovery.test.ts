// Crash tests: the built bot runs as a child process and kills itself (SIGKILL) at an injected point in the
// message path; a fresh process is started on the same data. Every message must be answered exactly once.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { startHomeserver, type Homeserver } from "../support/homeserver";
import { MatrixTestUser } from "../support/matrix-test-user";
import { appserviceEnv, botEnv, ChildBot, freePort, makeDataDir, removeDir, writeRegistration } from "../support/bot-harness";
import { echoReplyFor } from "../../src/reference-agent/server";
import type { Checkpoint } from "../../src/util/checkpoints";
import { botMessagesIn } from "../support/bot-messages";

type Mode = "client" | "appservice";

async function setUp(hs: Homeserver, mode: Mode, dataDir: string): Promise<{ env: Record<string, string>; botUserId: string }> {
  if (mode === "client") {
    const bot = hs.addUser("bot", { displayName: "Agent Bot" });
    return { env: botEnv({ homeserverUrl: hs.url, accessToken: bot.accessToken, dataDir }), botUserId: bot.userId };
  }
  const port = await freePort();
  const reg = writeRegistration(dataDir, { port });
  const { senderUserId } = hs.addAppservice(parse(readFileSync(reg.path, "utf8")));
  return { env: appserviceEnv({ homeserverUrl: hs.url, registrationPath: reg.path, port, dataDir }), botUserId: senderUserId };
}

const CASES: Array<[Mode, Checkpoint]> = [
  ["client", "message-received"], ["client", "message-journaled"], ["client", "reply-accepted"],
  ["appservice", "message-received"], ["appservice", "message-journaled"], ["appservice", "reply-accepted"],
];

describe("SIGKILL in the message path, then restart", () => {
  let hs: Homeserver;
  let dataDir: string;
  const children: ChildBot[] = [];

  beforeEach(async () => {
    hs = await startHomeserver({ serverName: "localhost" });
    dataDir = makeDataDir();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) await child.stop();
    await hs.close();
    removeDir(dataDir);
  });

  it.each(CASES)("%s mode, killed at %s: the message is answered exactly once", async (mode, point) => {
    const { env, botUserId } = await setUp(hs, mode, dataDir);
    const first = new ChildBot({ ...env, MAB_TEST_CRASH_AT: point });
    children.push(first);
    await first.ready();

    const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    const { room_id: roomId } = await alice.createRoom({ is_direct: true, invite: [botUserId], preset: "trusted_private_chat" });
    await hs.waitFor(() => hs.membership(roomId, botUserId) === "join", { what: "the bot joins" });
    await alice.sendText(roomId, `survive ${point}`);

    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    const second = new ChildBot(env);
    children.push(second);
    await second.ready();

    const answers = () => botMessagesIn(hs, roomId, botUserId);
    await hs.waitFor(() => answers().length >= 1, { what: "the answer after the restart", timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 800)); // room for a duplicate to show up, if there were one
    expect(answers().map((e) => e.content["body"])).toEqual([echoReplyFor(`survive ${point}`)]);
  });
});
