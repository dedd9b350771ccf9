// Transactions as the bot's durability depends on them: 200 only after onBatch, 500 (and a retry that
// works) when it fails, each txnId processed once (retries, restarts, concurrent duplicates), bad events skipped.
import { FaultyStoreAdapter } from "../../support/faulty-store";
import { AppserviceFixture, BOT, expectNoSecretIn, gate, HS_TOKEN, message } from "./support";
import { expectSteady, waitFor } from "../../support/wait";

const ids = (as: AppserviceFixture): string[] =>
  as.items.map((i) => (i.kind === "event" ? i.event.event_id : i.kind === "invite" ? `invite:${i.invite.roomId}` : "direct-rooms"));

describe("appservice server: transactions", () => {
  let as: AppserviceFixture;

  afterEach(async () => {
    expectNoSecretIn(as.logLines, HS_TOKEN);
    await as.close();
  });

  describe("with a healthy store", () => {
    beforeEach(async () => {
      as = await new AppserviceFixture().start();
    });

    it("delivers the events in order and answers only after onBatch finished", async () => {
      const held = gate();
      as.behaviour = () => held.promise;
      let answered = false;
      const pending = as.put("t1", { events: [message("$1:example.org", "one"), message("$2:example.org", "two")] })
        .then((r) => {
          answered = true;
          return r;
        });
      await expectSteady(() => waitUntil(() => as.batches.length === 1), () => expect(answered).toBe(false));
      held.open();
      expect(await pending).toEqual({ status: 200, body: {} });
      expect(ids(as)).toEqual(["$1:example.org", "$2:example.org"]);
    });

    it("does not pass a retried transaction to onBatch again, nor after a restart", async () => {
      const body = { events: [message("$1:example.org", "once")] };
      expect((await as.put("t-retry", body)).status).toBe(200);
      expect((await as.put("t-retry", body)).status).toBe(200);
      expect(as.batches).toHaveLength(1);
      await as.restart();
      expect(await as.put("t-retry", body)).toEqual({ status: 200, body: {} });
      expect(as.batches).toHaveLength(1);
      expect(as.okCount).toBe(3);
    });

    it("answers 500 M_UNKNOWN when onBatch fails, then processes the retry of the same txnId once", async () => {
      as.behaviour = async () => {
        throw new Error("SQLITE_BUSY: database is locked at /secret/path");
      };
      const body = { events: [message("$1:example.org", "retry me")] };
      const failed = await as.put("t-fail", body);
      expect(failed.status).toBe(500);
      expect(failed.body).toEqual({ errcode: "M_UNKNOWN", error: expect.any(String) });
      expect(String(failed.body["error"])).not.toMatch(/SQLITE|secret/);
      expect(as.okCount).toBe(0);

      as.behaviour = async () => undefined;
      expect(await as.put("t-fail", body)).toEqual({ status: 200, body: {} });
      expect(await as.put("t-fail", body)).toEqual({ status: 200, body: {} });
      expect(as.batches).toHaveLength(2); // the failed attempt and the successful retry; no third
    });

    it("keeps working after a failing transaction (no wedge)", async () => {
      as.behaviour = async () => {
        throw new Error("outage");
      };
      expect((await as.put("t-a", { events: [message("$a:example.org", "a")] })).status).toBe(500);
      as.behaviour = async () => undefined;
      expect((await as.put("t-b", { events: [message("$b:example.org", "b")] })).status).toBe(200);
      expect(ids(as)).toEqual(["$a:example.org", "$b:example.org"]);
    });

    it("answers 500 when onBatch throws synchronously, and never leaves the request hanging", async () => {
      await as.close();
      as = await new AppserviceFixture({
        onBatch: (() => {
          throw new TypeError("not even a promise");
        }) as unknown as (items: unknown[]) => Promise<void>,
      }).start();
      expect((await as.put("t-sync", { events: [message("$s:example.org", "s")] })).status).toBe(500);
    });

    it("skips a malformed event and delivers the rest", async () => {
      const events = [
        message("$ok1:example.org", "before"),
        { event_id: "$bad:example.org", type: "m.room.message", content: "not an object" },
        "not even an object",
        message("$ok2:example.org", "after"),
      ];
      expect((await as.put("t-mixed", { events })).status).toBe(200);
      expect(ids(as)).toEqual(["$ok1:example.org", "$ok2:example.org"]);
      expect(as.logLines.some((l) => l.includes("malformed event") && l.includes("$bad:example.org"))).toBe(true);
    });

    it("turns an invite of the bot into an invite item with via, and other member events into events", async () => {
      const invite = {
        event_id: "$inv:example.org", room_id: "!dm:remote.example", sender: "@alice:example.org", type: "m.room.member",
        state_key: BOT, content: { membership: "invite", is_direct: true },
        unsigned: { invite_room_state: [{ type: "m.room.create", state_key: "", sender: "@alice:example.org", content: { type: "m.space" } }] },
      };
      const otherInvite = { ...invite, event_id: "$inv2:example.org", state_key: "@bob:example.org", unsigned: {} };
      const v12Invite = { ...invite, event_id: "$inv3", room_id: "!abcdefv12roomid", unsigned: {} };
      expect((await as.put("t-inv", { events: [invite, otherInvite, v12Invite] })).status).toBe(200);
      expect(as.items).toEqual([
        { kind: "invite", invite: { roomId: "!dm:remote.example", inviter: "@alice:example.org", isDirect: true, roomType: "m.space", via: ["example.org", "remote.example"] } },
        { kind: "event", event: expect.objectContaining({ event_id: "$inv2:example.org" }) },
        { kind: "invite", invite: { roomId: "!abcdefv12roomid", inviter: "@alice:example.org", isDirect: true, via: ["example.org"] } },
      ]);
    });

    it("processes the same txnId arriving twice concurrently once, answering both after it", async () => {
      const held = gate();
      as.behaviour = () => held.promise;
      const body = { events: [message("$c:example.org", "concurrent")] };
      const first = as.put("t-conc", body);
      await waitUntil(() => as.batches.length === 1);
      const second = as.put("t-conc", body, { auth: "query" });
      await waitUntil(() => as.logLines.some((l) => l.includes("transaction already in progress; waiting for it")));
      held.open();
      expect(await Promise.all([first, second])).toEqual([{ status: 200, body: {} }, { status: 200, body: {} }]);
      expect(as.batches).toHaveLength(1);
    });

    it("processes different transactions concurrently", async () => {
      const held = gate();
      as.behaviour = () => held.promise;
      const a = as.put("t-x", { events: [message("$x:example.org", "x")] });
      const b = as.put("t-y", { events: [message("$y:example.org", "y")] });
      await waitUntil(() => as.batches.length === 2);
      held.open();
      expect((await Promise.all([a, b])).map((r) => r.status)).toEqual([200, 200]);
    });

    it("lets a transaction in progress answer when the server stops", async () => {
      const held = gate();
      as.behaviour = () => held.promise;
      const pending = as.put("t-stop", { events: [message("$st:example.org", "stop")] });
      await waitUntil(() => as.batches.length === 1);
      const stopped = as.server.stop();
      setTimeout(held.open, 20);
      expect((await pending).status).toBe(200);
      await stopped;
    });
  });

  describe("with a failing store", () => {
    let faulty!: FaultyStoreAdapter;

    beforeEach(async () => {
      as = await new AppserviceFixture({}, (adapter) => (faulty = new FaultyStoreAdapter(adapter))).start();
    });

    it("answers 500 when the dedupe record cannot be read, and processes the retry once the store is back", async () => {
      const body = { events: [message("$f:example.org", "store down")] };
      faulty.failAll(true);
      expect((await as.put("t-store", body)).status).toBe(500);
      expect(as.batches).toHaveLength(0);
      faulty.heal();
      expect((await as.put("t-store", body)).status).toBe(200);
      expect((await as.put("t-store", body)).status).toBe(200);
      expect(as.batches).toHaveLength(1);
    });

    it("answers 200 when only recording the txnId fails (the events are durable already)", async () => {
      faulty.failNext("set");
      expect((await as.put("t-rec", { events: [message("$r:example.org", "r")] })).status).toBe(200);
      expect(as.batches).toHaveLength(1);
      expect(as.logLines.some((l) => l.includes("could not be recorded"))).toBe(true);
    });
  });
});

async function waitUntil(probe: () => boolean): Promise<void> {
  await waitFor(probe, { what: "the condition", intervalMs: 5 });
}
