// A named agent's own runs fanned out to rooms (src/app/faces.ts facedEnqueue): in client mode each entry carries the
// agent's MSC4144 profile; in appservice mode, where the agent's user could join the room, the entry is sent as that
// user (kept in the outbox entry, so a resend after a crash goes out as the same user) and carries no profile; where
// it could not, the bot sends it with the profile.
import { facedEnqueue } from "../../../src/app/faces";
import type { OutboxEntryInput } from "../../../src/outbox";
import { PER_MESSAGE_PROFILE } from "../../../src/render/faces";

const FACE = { id: "coder", displayname: "Coder" };
const entry = (roomId: string): OutboxEntryInput => ({ roomId, type: "m.room.message", content: { msgtype: "m.text", body: "news" },
  txnId: `run-1-${roomId}`, origin: { kind: "proactive", runId: "run-1" } });

describe("facedEnqueue", () => {
  it("client mode: the profile on every entry", async () => {
    const queued: OutboxEntryInput[] = [];
    await facedEnqueue({ enqueue: async (e) => void queued.push(...e) }, FACE).enqueue([entry("!a:x")]);
    expect(queued[0]?.content[PER_MESSAGE_PROFILE]).toMatchObject({ id: "coder", displayname: "Coder" });
    expect(queued[0]?.asUser).toBeUndefined();
  });

  it("appservice mode: as the agent's user where it joined, else by the bot with the profile", async () => {
    const queued: OutboxEntryInput[] = [];
    const userIn = async (roomId: string): Promise<string | undefined> => (roomId === "!joined:x" ? "@bot_coder:x" : undefined);
    await facedEnqueue({ enqueue: async (e) => void queued.push(...e) }, FACE, userIn).enqueue([entry("!joined:x"), entry("!refused:x")]);
    expect(queued.map((e) => [e.roomId, e.asUser, PER_MESSAGE_PROFILE in e.content])).toEqual([
      ["!joined:x", "@bot_coder:x", false], ["!refused:x", undefined, true]]);
    expect(queued[0]).toEqual({ ...entry("!joined:x"), asUser: "@bot_coder:x" });
  });
});
