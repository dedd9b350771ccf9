// Exactly once across SIGKILL (issue 23): the built bot kills itself after the agent's PNG was uploaded but before its
// message was recorded, or after the homeserver accepted the message but before the turn was settled; the restarted
// bot answers the turn again, and the room holds one m.image whose bytes download back identical. A crash before the
// upload (the live text of the answer was shown, the file not yet) loses no part of the answer either.
import { MatrixTestUser } from "../../support/matrix-test-user";
import { CrashWorld, type CrashMode } from "../../support/crash-world";
import { botMessagesIn } from "../../support/bot-messages";
import { pngImage } from "../../support/media-samples";
import { closeScriptedAgents, startScriptedAgent } from "../../support/scripted-agent";
import { scaled } from "../../support/wait";
import type { Checkpoint } from "../../../src/util/checkpoints";
import { answerWithFiles, downloadMxc } from "./support";

jest.setTimeout(scaled(60_000));

const CASES: Array<[CrashMode, Checkpoint, string[], number]> = [
  // mode, where it dies, the agent's texts before the file, uploads the homeserver sees in all
  ["client", "attachment-uploaded", [], 2], // the first upload is orphaned; one post
  ["appservice", "attachment-uploaded", [], 2],
  ["client", "reply-accepted", [], 1], // the post is recorded and accepted: the rerun uploads nothing
  ["client", "reply-accepted", ["Here it comes."], 1], // dies after the text, before the upload
];

describe("SIGKILL around an agent's file, then restart", () => {
  const world = CrashWorld.use();
  afterEach(() => closeScriptedAgents());

  it.each(CASES)("%s mode, killed at %s (texts %j): one m.image, bytes identical", async (mode, point, texts, uploads) => {
    const { hs } = world;
    const png = pngImage(24, 16, 7);
    const agent = await startScriptedAgent({ protocol: 2, onFrame: (conn, f) => {
      if (f.op === "run") answerWithFiles(conn, String(f.runId), [{ filename: "plot.png", mimeType: "image/png", bytes: png }], texts);
    } });
    const { env, botUserId, inbound } = await world.setUp(mode, { AGENT_URL: agent.url });
    const first = await world.startBot({ ...env, MAB_TEST_CRASH_AT: point });

    const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    const { room_id: roomId } = await alice.createRoom({ is_direct: true, invite: [botUserId], preset: "trusted_private_chat" });
    await hs.waitFor(() => hs.membership(roomId, botUserId) === "join", { what: "the bot joins" });
    await alice.sendText(roomId, "plot it");

    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    const second = await world.startBot(env);

    const messages = () => botMessagesIn(hs, roomId, botUserId);
    const images = () => messages().filter((m) => m.content["msgtype"] === "m.image");
    await hs.waitFor(() => images().length >= 1, { what: "the image after the restart" });
    await world.expectSteady(second, inbound, () => {
      expect(images()).toHaveLength(1);
      expect(messages().map((m) => m.content["body"])).toEqual([...texts, "plot.png"]);
      expect(hs.requests.filter((r) => r.path.startsWith("/_matrix/media/v3/upload"))).toHaveLength(uploads);
    });
    expect((await downloadMxc(hs.url, String(images()[0]?.content["url"]))).equals(png)).toBe(true);
  });
});
