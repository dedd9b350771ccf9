// Provisioning survives SIGKILL between its steps: the built bot runs as a child process and kills itself right
// after createRoom made the user's space (or chat room), before the record knows it; a fresh process on the
// same data finishes the job. Exactly one space and one chat room exist for the user afterwards.
import type { Checkpoint } from "../../../src/util/checkpoints";
import { CrashWorld, type CrashMode } from "../../support/crash-world";
import { MatrixTestUser } from "../../support/matrix-test-user";
import { introductions, provisionedRooms, spacesCreatedBy, waitProvisioned } from "./support";

const CASES: Array<[CrashMode, Checkpoint]> = [
  ["client", "provision-space-created"], ["client", "provision-room-created"], ["appservice", "provision-space-created"],
];

describe("SIGKILL during provisioning, then restart", () => {
  const world = CrashWorld.use();

  it.each(CASES)("%s mode, killed at %s: exactly one space and one chat room for the user", async (mode, point) => {
    const { hs } = world;
    const { env, botUserId, inbound } = await world.setUp(mode, { PROVISION_SPACE: "true" });
    const first = await world.startBot({ ...env, MAB_TEST_CRASH_AT: point });

    const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    await alice.createRoom({ is_direct: true, invite: [botUserId], preset: "trusted_private_chat" });
    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    // The room that was being created exists, unrecorded.
    expect(provisionedRooms(hs, alice.userId, point === "provision-space-created" ? "space" : "chat")).toHaveLength(1);

    const second = await world.startBot(env);
    const { spaceId, roomId } = await waitProvisioned(hs, botUserId, alice.userId);
    // Room for a duplicate to show up, if there were one.
    await world.expectSteady(second, inbound, () => {
      expect(provisionedRooms(hs, alice.userId, "space")).toEqual([spaceId]);
      expect(provisionedRooms(hs, alice.userId, "chat")).toEqual([roomId]);
      expect(spacesCreatedBy(hs, botUserId)).toEqual([spaceId]);
    });
    expect(hs.getState(spaceId, "m.space.child", roomId)?.content["via"]).toEqual(["localhost"]);
    expect(hs.membership(spaceId, alice.userId)).toBe("invite");
    expect(hs.membership(roomId, alice.userId)).toBe("invite");
    expect(introductions(hs, roomId, botUserId)).toHaveLength(1);
  });
});
