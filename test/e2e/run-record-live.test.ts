// A live answer and its run's record (src/turns/record-gate.ts): the record of a new message's own run waits for the
// run's first send on SQLite, but a live message writes its record (live-messages) before it sends, so it writes the
// run's record before its own. Observed on the adapter's commits: the run record is never committed after the first
// live-message record of its run (after a crash, the recovery of that live message and the run again of its batch go
// together).
import pino from "pino";
import type { KeyvStoreAdapter } from "keyv";
import { appserviceRoom, useLoopbackWorld } from "../support/loopback-world";
import { appserviceEnv, freePort, InProcessBot } from "../support/bot-harness";
import { waitForBotIdle } from "../support/bot-idle";
import { CoalescingKeyvSqlite, type CommittedWrite } from "../../src/store/sqlite-adapter";
import { startReferenceAgent } from "../../src/reference-agent/server";
import type { AgentBrain } from "../../src/reference-agent/brain";

/** Streams its answer in two parts, the second once the first is shown live (`shown`: the room has it). */
function liveStreamer(shown: (text: string) => boolean): AgentBrain {
  return {
    async run(input, out, signal) {
      const first = `first half of the answer to ${String(input.messages.at(-1)?.content ?? "")}`;
      const id = out.startMessage();
      out.delta(id, `${first}, `);
      for (const deadline = Date.now() + 30_000; !shown(first) && Date.now() < deadline;) {
        if (signal.aborted) throw new Error("aborted");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      out.delta(id, "and the second half");
      out.endMessage(id);
    },
  };
}

describe("a live answer's run record", () => {
  const world = useLoopbackWorld();

  it("is committed before (or with) the first record of its live message", async () => {
    const { hs, dataDir } = world;
    const commits: CommittedWrite[][] = [];
    const observe = (adapter: KeyvStoreAdapter): KeyvStoreAdapter => {
      if (!(adapter instanceof CoalescingKeyvSqlite)) throw new Error("expected the sqlite adapter");
      adapter.on("commit", (writes: CommittedWrite[]) => commits.push(writes));
      return adapter; // observed, not wrapped
    };
    const port = await freePort();
    const { reg, alice, roomId, senderUserId } = appserviceRoom(world, port);
    const shown = (text: string): boolean => hs.sent({ roomId, type: "m.room.message" })
      .some((e) => e.sender === senderUserId && String(e.content["body"] ?? "").includes(text));
    const agent = world.track(await startReferenceAgent({ host: "127.0.0.1", port: 0, logger: pino({ level: "silent" }),
      mode: { kind: "custom", brain: liveStreamer(shown) } }), (a) => a.close());
    const bot = world.track(await new InProcessBot(appserviceEnv({ homeserverUrl: hs.url, registrationPath: reg.path, port, dataDir,
      extra: { AGENT_URL: agent.url, STREAMING: "edits", TYPING_DELAY_MS: "600000", PLACEHOLDER_DELAY_MS: "600000" } }),
    [reg.asToken, reg.hsToken], { wrapStoreAdapter: observe }).start(), (b) => b.stop());

    for (let i = 0; i < 2; i++) {
      await waitForBotIdle(bot.app);
      const from = commits.length;
      hs.sendEvent(alice.userId, roomId, "m.room.message", { msgtype: "m.text", body: `question ${i}` });
      await hs.waitFor(() => hs.sent({ roomId, type: "m.room.message" }).some((e) => e.sender === senderUserId
        && String((e.content["m.new_content"] as { body?: unknown } | undefined)?.body ?? "").includes(`question ${i}, and the second half`)),
      { what: `the whole answer to question ${i}`, timeoutMs: 30_000 });
      await waitForBotIdle(bot.app);
      const turn = commits.slice(from);
      const recorded = turn.findIndex((c) => c.some((w) => w.key.startsWith("run-batches:") && w.value !== undefined));
      const live = turn.findIndex((c) => c.some((w) => w.key.startsWith("live-messages:") && w.value !== undefined));
      expect({ i, liveSeen: live >= 0, recordSeen: recorded >= 0 }).toEqual({ i, liveSeen: true, recordSeen: true });
      expect({ i, recordedNoLaterThanLive: recorded <= live }).toEqual({ i, recordedNoLaterThanLive: true });
    }
  });
});
