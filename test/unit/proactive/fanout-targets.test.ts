// The target rule of ProactiveFanout, as the agent link sees it: what is delivered where, and what is refused with
// a permanent nack (the agent drops it) rather than acked as "handled" with nowhere to go.
import Keyv from "keyv";
import pino from "pino";
import type { OutboxEntryInput } from "../../../src/outbox";
import { ProactiveFanout } from "../../../src/proactive/fanout";
import { encodeThreadKey } from "../../../src/rooms/thread-key";

function fanout(joined: string[], optedIn: string[]): { fanout: ProactiveFanout; queued: OutboxEntryInput[] } {
  const queued: OutboxEntryInput[] = [];
  return {
    queued,
    fanout: new ProactiveFanout({
      proactiveRooms: async () => optedIn, isJoined: async (roomId) => joined.includes(roomId),
      outbox: { enqueue: async (entries) => void queued.push(...entries) }, recordedRuns: new Keyv<string[]>(),
      log: pino({ level: "silent" }),
    }),
  };
}

const run = (runId: string, threadId: string) => ({ runId, threadId, proactive: true, messages: ["hi"], seqs: [1] });

describe("ProactiveFanout targets", () => {
  it("* reaches the opted-in rooms; a joined room, by id or thread key, is reached opted in or not", async () => {
    const { fanout: f, queued } = fanout(["!a:x", "!b:x"], ["!a:x"]);
    expect(await f.onAgentInitiated(run("r1", "*"))).toBe("handled");
    expect(await f.onAgentInitiated(run("r2", "!b:x"))).toBe("handled");
    expect(await f.onAgentInitiated(run("r3", encodeThreadKey({ roomId: "!b:x", generation: 2 })))).toBe("handled");
    expect(queued.map((e) => e.roomId)).toEqual(["!a:x", "!b:x", "!b:x"]);
  });

  it("a room the bot is not in, or a target naming no room, is a permanent nack and queues nothing", async () => {
    const { fanout: f, queued } = fanout(["!a:x"], ["!a:x"]);
    expect(await f.onAgentInitiated(run("r1", "!gone:x"))).toEqual({ nack: true, reason: "not_joined", permanent: true });
    expect(await f.onAgentInitiated(run("r2", "nonsense"))).toEqual({ nack: true, reason: "unknown_target", permanent: true });
    expect(await f.deliver("push.1", "!gone:x", ["x"])).toEqual({ refused: "not_joined", detail: "the bot is not in the room !gone:x" });
    expect(queued).toEqual([]);
  });
});
