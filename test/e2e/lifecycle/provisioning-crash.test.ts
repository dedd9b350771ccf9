// Provisioning survives SIGKILL between its steps: the built bot runs as a child process and kills itself right
// after createRoom made the user's space (or chat room), before the record knows it; a fresh process on the
// same data finishes the job. Exactly one space and one chat room exist for the user afterwards.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import type { Checkpoint } from "../../../src/util/checkpoints";
import { appserviceEnv, botEnv, ChildBot, freePort, makeDataDir, removeDir, writeRegistration } from "../../support/bot-harness";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";
import { introductions, provisionedRooms, spacesCreatedBy, waitProvisioned } from "./support";

type Mode = "client" | "appservice";

async function setUp(hs: Homeserver, mode: Mode, dataDir: string): Promise<{ env: Record<string, string>; botUserId: string }> {
  const extra = { PROVISION_SPACE: "true" };
  if (mode === "client") {
    const bot = hs.addUser("bot", { displayName: "Agent Bot" });
    return { env: botEnv({ homeserverUrl: hs.url, accessToken: bot.accessToken, dataDir, extra }), botUserId: bot.userId };
  }
  const port = await freePort();
  const reg = writeRegistration(dataDir, { port });
  const { senderUserId } = hs.addAppservice(parse(readFileSync(reg.path, "utf8")));
  return { env: appserviceEnv({ homeserverUrl: hs.url, registrationPath: reg.path, port, dataDir, extra }), botUserId: senderUserId };
}

const CASES: Array<[Mode, Checkpoint]> = [
  ["client", "provision-space-created"], ["client", "provision-room-created"], ["appservice", "provision-space-created"],
];

describe("SIGKILL during provisioning, then restart", () => {
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

  it.each(CASES)("%s mode, killed at %s: exactly one space and one chat room for the user", async (mode, point) => {
    const { env, botUserId } = await setUp(hs, mode, dataDir);
    const first = new ChildBot({ ...env, MAB_TEST_CRASH_AT: point });
    children.push(first);
    await first.ready();

    const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    await alice.createRoom({ is_direct: true, invite: [botUserId], preset: "trusted_private_chat" });
    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    // The room that was being created exists, unrecorded.
    expect(provisionedRooms(hs, alice.userId, point === "provision-space-created" ? "space" : "chat")).toHaveLength(1);

    const second = new ChildBot(env);
    children.push(second);
    await second.ready();
    const { spaceId, roomId } = await waitProvisioned(hs, botUserId, alice.userId, 15_000);
    await new Promise((r) => setTimeout(r, 800)); // room for a duplicate to show up, if there were one

    expect(provisionedRooms(hs, alice.userId, "space")).toEqual([spaceId]);
    expect(provisionedRooms(hs, alice.userId, "chat")).toEqual([roomId]);
    expect(spacesCreatedBy(hs, botUserId)).toEqual([spaceId]);
    expect(hs.getState(spaceId, "m.space.child", roomId)?.content["via"]).toEqual(["localhost"]);
    expect(hs.membership(spaceId, alice.userId)).toBe("invite");
    expect(hs.membership(roomId, alice.userId)).toBe("invite");
    expect(introductions(hs, roomId, botUserId)).toHaveLength(1);
  });
});
