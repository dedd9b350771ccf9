// Which agent a room talks to (its own choice, a space's, the global default) and the thread each agent sees.
import { agentThreadId, RoomAgents, threadKeyOf } from "../../../src/agent/room-agents";
import type { AgentTransport } from "../../../src/agent/transports/transport";
import type { RunRequest } from "../../../src/agent/link-types";

function fakeTransport(seen: string[]): AgentTransport {
  return {
    start: async () => undefined, stop: async () => undefined, state: () => "up", onStateChange: () => () => undefined,
    stats: () => ({ reconnects: 0, framesRejected: 0, duplicatesIgnored: 0, acksSent: 0, nacksSent: 0, agentRunsDelivered: 0 }),
    protocol: () => 2, capabilities: () => undefined, onAgentInitiated: () => undefined,
    run: async (req) => {
      seen.push(req.threadId);
      return { ok: true };
    },
  };
}

function setup(): { agents: RoomAgents; seen: Record<string, string[]>; settings: Map<string, { agent?: string }>; spaces: Map<string, string[]>;
  reads: string[] } {
  const seen: Record<string, string[]> = { support: [], coder: [] };
  const settings = new Map<string, { agent?: string }>();
  const spaces = new Map<string, string[]>();
  const reads: string[] = [];
  const agents = new RoomAgents({
    agents: new Map(["support", "coder"].map((name) => [name, { definition: { name }, transport: fakeTransport(seen[name] ?? []) }])),
    defaultAgent: "support",
    settings: { get: async (roomId) => (reads.push(roomId), settings.get(roomId) ?? {}),
      update: async (roomId, patch) => void settings.set(roomId, { ...settings.get(roomId), ...patch }) },
    spacesOf: async (roomId) => spaces.get(roomId) ?? [],
  });
  return { agents, seen, settings, spaces, reads };
}

const req = (roomId: string, threadId = "v1.r~g0"): RunRequest => ({ threadId, runId: "$1",
  input: { messages: [{ id: "$1", role: "user", content: "hi", sender: "@a:x" }], context: { roomId, isDirect: false } } });

describe("RoomAgents", () => {
  it("answers with the room's choice, else its space's, else the global default; a vanished agent is skipped", async () => {
    const { agents, settings, spaces } = setup();
    expect(await agents.current("!room")).toEqual({ name: "support", source: "default" });
    spaces.set("!room", ["!space"]);
    settings.set("!space", { agent: "coder" });
    expect(await agents.current("!room")).toEqual({ name: "coder", source: "space" });
    await agents.choose("!room", "support");
    expect(await agents.current("!room")).toEqual({ name: "support", source: "room" });
    settings.set("!room", { agent: "retired" });
    expect(await agents.current("!room")).toEqual({ name: "coder", source: "space" });
    await expect(agents.choose("!room", "nobody")).rejects.toThrow("unknown agent");
  });

  it("keeps the default's thread keys as they were and gives other agents their own thread per room", async () => {
    const { agents, seen } = setup();
    await agents.run(req("!room"), { onTextMessage: () => undefined });
    await agents.choose("!room", "coder");
    await agents.run(req("!room"), { onTextMessage: () => undefined });
    expect(seen).toEqual({ support: ["v1.r~g0"], coder: ["v1.r~g0~~coder"] });
    expect(threadKeyOf(agentThreadId("v1.r~g0~Rqnc", "coder", "support"))).toBe("v1.r~g0~Rqnc");
    expect(agentThreadId("v1.r~g0", "support", "support")).toBe("v1.r~g0");
  });

  it("routed: each turn's agent is looked up once and handed to the wrapper (the usage meter) with its run", async () => {
    const { agents, seen, settings, spaces, reads } = setup();
    spaces.set("!room", ["!space"]);
    settings.set("!space", { agent: "coder" });
    const wrapped: string[] = [];
    const runner = agents.routed((name, inner) => ({ run: (r, o, sig) => (wrapped.push(name), inner.run(r, o, sig)) }));
    expect(await runner.run(req("!room"), { onTextMessage: () => undefined })).toEqual({ ok: true });
    expect(wrapped).toEqual(["coder"]);
    expect(seen).toEqual({ support: [], coder: ["v1.r~g0~~coder"] });
    expect(reads).toEqual(["!room", "!space"]); // one lookup: the room's settings, then its space's
  });

  it("with one agent configured, every turn goes to it without reading the room's settings or spaces", async () => {
    const seen: string[] = [];
    const reads: string[] = [];
    const agents = new RoomAgents({ agents: new Map([["support", { definition: { name: "support" }, transport: fakeTransport(seen) }]]),
      defaultAgent: "support", settings: { get: async (roomId) => (reads.push(roomId), { agent: "support" }), update: async () => undefined },
      spacesOf: async (roomId) => (reads.push(`spaces of ${roomId}`), []) });
    const runner = agents.routed((name, inner) => ({ run: (r, o, sig) => inner.run(r, o, sig) }));
    await runner.run(req("!room"), { onTextMessage: () => undefined });
    await agents.run(req("!other"), { onTextMessage: () => undefined });
    expect(seen).toEqual(["v1.r~g0", "v1.r~g0"]);
    expect(reads).toEqual([]);
    expect(await agents.current("!room")).toEqual({ name: "support", source: "room" }); // /agent still says where it comes from
  });
});
