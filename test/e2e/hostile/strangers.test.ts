// Issue 18, "strangers cost nothing": a sender outside ALLOWED_USERS is not answered, and now nothing they send
// outside room state is stored either (their messages used to add a journal row each). Their state events still
// count as room facts, and an allowed user's encrypted message in the same room still gets its notice.
import { ENCRYPTED_ROOM_NOTICE } from "../../../src/rooms/encrypted-notice";
import type { ClientEvent } from "../../support/homeserver/types";
import { MODES, Scenario } from "../../support/scenario";
import { scaled } from "../../support/wait";
import { rowWritten, storeRows, storeSettled } from "../../support/store-rows";

jest.setTimeout(scaled(90_000));

const ENCRYPTED = { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "AwgA", session_id: "s", sender_key: "k", device_id: "D" };

/** 1,000 non-state events from `sender`: messages, reactions, redactions, polls, encrypted events. */
function strangerFlood(s: Scenario, sender: string, roomId: string): void {
  let last = s.hs.sendEvent(sender, roomId, "m.room.message", { msgtype: "m.text", body: "Agent Bot: hello?" });
  for (let i = 1; i < 1000; i++) {
    switch (i % 5) {
      case 0: last = s.hs.sendEvent(sender, roomId, "m.room.message", { msgtype: "m.text", body: `Agent Bot: answer me ${i}` }); break;
      case 1: s.hs.sendEvent(sender, roomId, "m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: last, key: "👍" } }); break;
      case 2: s.hs.redact(sender, roomId, last); break;
      case 3: s.hs.sendEvent(sender, roomId, "org.matrix.msc3381.poll.start", { "org.matrix.msc3381.poll.start": { question: { body: "?" }, answers: [] } }); break;
      default: s.hs.sendEvent(sender, roomId, "m.room.encrypted", { ...ENCRYPTED, ciphertext: `AwgA${i}` });
    }
  }
}

describe.each(MODES)("strangers in %s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("1,000 non-state events from a stranger leave no row; their state event and an allowed user's encrypted message still count", async () => {
    s = await Scenario.start({ mode, env: { ALLOWED_USERS: "@alice:localhost" } });
    const mallory = s.person("mallory", "Mallory");
    const dm = await s.openDm();
    const group = await s.openGroup(s.alice, [mallory]);
    await s.alice.sendText(dm, "before");
    await s.waitBotMessages(dm, 1);
    await storeSettled(s.dataDir);
    const groupRows = await storeRows(s.dataDir, group);

    strangerFlood(s, mallory.userId, group);
    await s.alice.sendText(dm, "after the flood"); // after the flood in the stream: answered once the flood was handled
    await s.waitBotMessages(dm, 2, "the DM answer after the flood");
    await storeSettled(s.dataDir);
    await s.expectSteady(async () => {
      expect(await storeRows(s.dataDir, group)).toBe(groupRows);
      expect(s.botMessages(group)).toEqual([]); // a stranger is never answered, the encrypted ones brought no notice
    });

    // A stranger's state event is still a room fact (journaled and routed, as before).
    const renamed = s.hs.setState(mallory.userId, group, "m.room.member", mallory.userId, { membership: "join", displayname: "Mal" });
    await s.alice.send(group, "m.room.encrypted", ENCRYPTED); // an allowed user's: the notice still comes
    const [notice] = await s.waitBotMessages(group, 1, "the encrypted-room notice for the allowed user");
    expect(notice?.content).toMatchObject({ msgtype: "m.notice", body: ENCRYPTED_ROOM_NOTICE });
    expect(await storeRows(s.dataDir, `${group}|${renamed}`)).toBe(1);
  });

  if (mode === "appservice") {
    it("a transaction carrying only strangers' events leaves no row at all", async () => {
      s = await Scenario.start({ mode, env: { ALLOWED_USERS: "@alice:localhost" } });
      const mallory = s.person("mallory", "Mallory");
      const group = await s.openGroup(s.alice, [mallory]);
      await s.hs.waitFor(() => s.hs.appserviceIdle("matrix-agent-bot"), { what: "every transaction pushed" });
      await storeSettled(s.dataDir);
      const rows = await storeRows(s.dataDir);
      const events: ClientEvent[] = Array.from({ length: 1000 }, (_, i) => ({
        event_id: `$stranger-${i}`, room_id: group, sender: mallory.userId, origin_server_ts: Date.now(),
        type: i % 2 === 0 ? "m.room.message" : "m.reaction",
        content: i % 2 === 0 ? { msgtype: "m.text", body: `Agent Bot: ${i}` } : { "m.relates_to": { rel_type: "m.annotation", event_id: "$stranger-0", key: "x" } },
      }));
      expect((await s.hs.pushTransaction("matrix-agent-bot", events, { txnId: "strangers-only" })).status).toBe(200);
      expect(await storeRows(s.dataDir)).toBe(rows); // the journal writes before the 200
      // The txn id is recorded after the 200, in store order: once a later transaction's id is there, it would be too.
      const sentinel: ClientEvent = { event_id: "$sentinel", room_id: group, sender: s.alice.userId, origin_server_ts: Date.now(),
        type: "m.room.message", content: { msgtype: "m.text", body: "not addressed to the bot" } };
      expect((await s.hs.pushTransaction("matrix-agent-bot", [sentinel], { txnId: "sentinel" })).status).toBe(200);
      await rowWritten(s.dataDir, "appservice-txn:sentinel");
      expect(await storeRows(s.dataDir, "appservice-txn:strangers-only")).toBe(0);
    });
  }
});
