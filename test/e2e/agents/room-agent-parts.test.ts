// What follows the agent a room talks to, not the global default, end to end with two agents of different kinds:
// the media a room's message may carry is what that room's agent reads (its capabilities); a room upgrade carries
// the room's chosen agent and every agent's proactive opt-in to the replacement, a kick or ban removes every opt-in.
import pino from "pino";
import { MEDIA_TEXTS } from "../../../src/media/texts";
import { openStore } from "../../../src/store";
import { startAguiHttpAgent, type AguiHttpAgent } from "../../support/agui-http-agent";
import { pngImage } from "../../support/media-samples";
import { Scenario } from "../../support/scenario";
import { startScriptedAgent, type ScriptedAgent } from "../../support/scripted-agent";
import { IMAGES_ONLY, mediaContent, partsOf, upload } from "../media/support";
import { agentsFile, stopAgentsWorld } from "./support";

let s: Scenario | undefined;
afterEach(async () => {
  await stopAgentsWorld(s);
  s = undefined;
});

/** "default": a WebSocket v2 agent that reads images; "coder": an HTTP agent that, by the agents file, reads audio only. */
async function twoKinds(env: Record<string, string> = {}): Promise<{ w: Scenario; ws: ScriptedAgent; http: AguiHttpAgent }> {
  const ws = await startScriptedAgent({ protocol: 2, capabilities: IMAGES_ONLY, onFrame: (conn, f) => f.op === "run" && conn.answer(String(f.runId), "seen") });
  const http = await startAguiHttpAgent();
  const file = agentsFile(`agents:\n  coder:\n    url: ${http.url}\n    capabilities:\n      multimodal:\n        input:\n          audio: true\n`);
  const w = s = await Scenario.start({ mode: "client", env: { AGENT_URL: ws.url, AGENTS_FILE: file, ...env } });
  return { w, ws, http };
}

async function sendImage(w: Scenario, roomId: string): Promise<void> {
  const png = pngImage(8, 8);
  const mxc = await upload(w, w.alice, png, "image/png", "cat.png");
  await w.alice.send(roomId, "m.room.message", mediaContent("m.image", mxc, "cat.png", { mimetype: "image/png", size: png.length }));
}

describe("per room agent", () => {
  it("media intake asks the room's agent what it reads: an image reaches the WebSocket agent, the HTTP agent's room is told", async () => {
    const { w, ws, http } = await twoKinds();
    const roomId = await w.openDm();
    await sendImage(w, roomId);
    await w.waitBotMessages(roomId, 1, "the WebSocket agent's answer");
    expect(partsOf(ws.runs()[0])).toMatchObject([{ type: "image", source: { type: "data", mimeType: "image/png" } }]);

    await w.alice.sendText(roomId, "/agent coder");
    await w.waitBotMessages(roomId, 2, "the /agent reply");
    await sendImage(w, roomId);
    const all = await w.waitBotMessages(roomId, 3, "the notice");
    expect(String(all[2]?.content["body"])).toContain(MEDIA_TEXTS.notRead("images", "text and audio"));
    await w.expectSteady(() => {
      expect(http.requests).toHaveLength(0);
      expect(ws.runs()).toHaveLength(1);
    });
  });
});

/** The rooms in a store namespace (the bot stopped), and a room's chosen agent. */
async function readStore(w: Scenario, roomId: string): Promise<{ optedIn: Record<string, string[]>; agent: unknown }> {
  const store = await openStore(w.store.url, { logger: pino({ level: "silent" }) });
  try {
    const keys = async (name: string): Promise<string[]> => {
      const out: string[] = [];
      for await (const [key] of store.namespace<unknown>(name).iterator?.(undefined) ?? []) if (typeof key === "string") out.push(key);
      return out.sort();
    };
    const settings = await store.namespace<{ agent?: unknown }>("room-settings").get(roomId);
    return { optedIn: { default: await keys("proactive-rooms"), coder: await keys("proactive-rooms-agent-coder") }, agent: settings?.agent };
  } finally {
    await store.close();
  }
}

describe("per room agent, room lifecycle", () => {
  it("an upgrade carries the chosen agent and every agent's opt-in to the replacement; a kick removes every opt-in", async () => {
    const { w, http } = await twoKinds();
    const oldRoom = await w.openGroup(w.alice, [], { preset: "public_chat" });
    const commands = ["/proactive on", "/agent coder", "/proactive on"]; // the default agent's opt-in, then coder's
    for (const [i, command] of commands.entries()) {
      await w.alice.sendText(oldRoom, command);
      await w.waitBotMessages(oldRoom, i + 1, `the reply to ${command}`);
    }
    await w.alice.sendText(oldRoom, "Agent Bot: before the upgrade");
    await w.hs.waitFor(() => http.requests.length === 1 || undefined, { what: "coder's first run" });

    const newRoom = w.hs.upgradeRoom(w.alice.userId, oldRoom, "10");
    await w.waitJoined(newRoom);
    await w.alice.sendText(newRoom, "Agent Bot: after the upgrade");
    await w.hs.waitFor(() => http.requests.length === 2 || undefined, { what: "coder answers in the replacement" });
    expect(http.requests[1]?.body.threadId).toBe(http.requests[0]?.body.threadId); // the same conversation goes on
    await w.settled();
    await w.stopBot();
    expect(await readStore(w, newRoom)).toEqual({ optedIn: { default: [newRoom], coder: [newRoom] }, agent: "coder" });

    await w.startBot();
    await w.alice.kick(newRoom, w.botUserId, "enough");
    await w.bot.logs.waitFor((l) => String(l.msg).startsWith("the bot was removed from a room") && l["roomId"] === newRoom, "the kick is handled");
    await w.settled();
    await w.stopBot();
    expect((await readStore(w, newRoom)).optedIn).toEqual({ default: [], coder: [] });
  });
});
