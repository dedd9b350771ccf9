// Issue 18: an invite from someone outside ALLOWED_USERS is declined and costs the store nothing: the bot's own
// leave from a room it was only invited to is a room fact, not journaled (nor, in appservice mode, the id of the
// transaction that carried it).
import { MODES, Scenario } from "../../support/scenario";
import { storeKeys, storeSettled } from "../../support/store-rows";
import { scaled } from "../../support/wait";

jest.setTimeout(scaled(60_000));

describe.each(MODES)("declined invites in %s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("invites from a user outside ALLOWED_USERS are declined and leave no row", async () => {
    s = await Scenario.start({ mode, env: { ALLOWED_USERS: "@alice:localhost" } });
    const mallory = s.person("mallory", "Mallory");
    const dm = await s.openDm();
    await storeSettled(s.dataDir);
    const before = await storeKeys(s.dataDir);
    const rooms = Array.from({ length: 5 }, (_, i) =>
      s.hs.createRoom(mallory.userId, { isDirect: i % 2 === 0, invite: [s.botUserId], name: `Lure ${i}` }));
    await s.hs.waitFor(() => rooms.every((r) => s.hs.membership(r, s.botUserId) === "leave"), { what: "every invite declined", timeoutMs: 30_000 });
    await s.alice.sendText(dm, "still there?"); // after the declines in the stream: answered once they were handled
    await s.waitBotMessages(dm, 1, "the answer after the declines");
    await storeSettled(s.dataDir);
    const added = (await storeKeys(s.dataDir)).filter((k) => !before.includes(k) && !k.includes(dm));
    expect(added.filter((k) => !k.startsWith("outbox:") && !k.startsWith("appservice-txn:") && !k.startsWith("sync:"))).toEqual([]);
    expect(added.filter((k) => rooms.some((r) => k.includes(r)))).toEqual([]);
  });
});
