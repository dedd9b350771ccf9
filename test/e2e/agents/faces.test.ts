// Each agent its own face in client mode (MSC4144, unstable `com.beeper.per_message_profile`), against the homeserver
// double: a named agent's live answer carries its profile and the name fallback on the first event, in every edit's
// `m.new_content` (and the edit's own fallback), and on each message of an answer too long for one event; two agents
// in one bot: the HTTP agent's messages carry its face, the global default's (no displayName) the bot's own.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { echoReply } from "../../../src/reference-agent/server";
import { LIVE_MARKER } from "../../../src/render/live-content";
import { PER_MESSAGE_PROFILE } from "../../../src/render/faces";
import { aguiHttpAgents, startAguiHttpAgent } from "../../support/agui-http-agent";
import { foldEdits, isIntroduction, replacedEventId } from "../../support/bot-messages";
import type { ClientEvent } from "../../support/homeserver/types";
import { Scenario } from "../../support/scenario";
import { closeScriptedAgents } from "../../support/scripted-agent";
import { scaled } from "../../support/wait";
import { answered, LIVE_TEST_ENV, longAnswer, startStreamingAgent, type StreamingAgentOptions } from "../live/support";

jest.setTimeout(scaled(90_000));

type Content = Record<string, unknown>;

let s: Scenario | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
  await closeScriptedAgents();
  await Promise.all(aguiHttpAgents.splice(0).map((a) => a.close()));
});

function agentsFile(yaml: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "mab-faces-")), "agents.yaml");
  writeFileSync(file, yaml);
  return file;
}

const WRITER = { id: "writer", displayname: "Writer <3", avatar_url: "mxc://example.org/writer", has_fallback: true };
const WRITER_STRONG = "<strong data-mx-profile-fallback>Writer &lt;3: </strong>";

/** Content shown with `face`: the profile, `Name: ` before the body and the marked name before the formatted body. */
function expectFaced(content: Content, face: typeof WRITER, strong: string, lead = ""): void {
  expect(content[PER_MESSAGE_PROFILE]).toEqual(face);
  expect(String(content["body"]).startsWith(`${lead}${face.displayname}: `)).toBe(true);
  expect(content["format"]).toBe("org.matrix.custom.html");
  expect(String(content["formatted_body"]).startsWith(`${lead}${strong}`)).toBe(true);
}

/** The text a client without MSC4144 shows, with the fallback taken off (what a client with it shows). */
function withoutFallback(content: Content, name: string): string {
  return String(content["body"]).slice(`${name}: `.length);
}

describe("agent faces in client mode (MSC4144)", () => {
  it("a named agent's live answer: the first event, every edit and each message of a long answer carry its profile", async () => {
    const holder: { s?: Scenario } = {};
    const answer = longAnswer(5_000);
    const agent = await startStreamingAgent({ protocol: 2, answer: () => answer,
      get hs() { if (!holder.s) throw new Error("no scenario yet"); return holder.s.hs; },
      get botUserId() { return holder.s?.botUserId ?? ""; } } as StreamingAgentOptions);
    const file = agentsFile(`agents:\n  writer:\n    url: ${agent.url}\n    displayName: "Writer <3"\n    avatar: mxc://example.org/writer\n`);
    holder.s = s = await Scenario.start({ mode: "client", env: { AGENTS_FILE: file, ...LIVE_TEST_ENV } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "tell me a long story");
    await s.hs.waitFor(() => answered(s!.hs, roomId, s!.botUserId, answer), { what: "the whole answer written", timeoutMs: 60_000 });
    await s.settled();
    const events = s.hs.sent({ roomId, sender: s.botUserId, type: "m.room.message" }).filter((e) => !isIntroduction(e));
    const firsts = events.filter((e) => replacedEventId(e.content) === undefined);
    const edits = events.filter((e) => replacedEventId(e.content) !== undefined);
    expect(firsts.length).toBeGreaterThanOrEqual(2); // 5,000 words: more than one message
    expect(edits.some((e) => LIVE_MARKER in (e.content["m.new_content"] as Content))).toBe(true); // streamed by edits
    for (const e of firsts) expectFaced(e.content, WRITER, WRITER_STRONG);
    for (const e of edits) {
      expectFaced(e.content["m.new_content"] as Content, WRITER, WRITER_STRONG);
      expect(String(e.content["body"]).startsWith(`* ${WRITER.displayname}: `)).toBe(true); // the edit's own fallback
    }
    const msgs = foldEdits(events);
    expect(msgs.map((m) => withoutFallback(m.content, WRITER.displayname)).join("\n\n")).toBe(answer);
  });

  it("two agents: the named HTTP agent answers with its face, the global default without a displayName as the bot", async () => {
    const http = await startAguiHttpAgent();
    const file = agentsFile(`agents:\n  coder:\n    url: ${http.url}\n    displayName: Coder\n`);
    s = await Scenario.start({ mode: "client", externalAgent: true, env: { AGENTS_FILE: file } });
    const dm = await s.openDm();
    const answers = async (text: string, count: number): Promise<ClientEvent> => {
      await s!.alice.sendText(dm, text);
      await s!.waitBotMessages(dm, count, `answer ${count}`);
      await s!.settled();
      const last = s!.botMessages(dm)[count - 1];
      if (!last) throw new Error("no answer");
      return last;
    };
    const plain = await answers("hello", 1);
    expect(plain.content["body"]).toBe(echoReply("hello"));
    expect(plain.content).not.toHaveProperty([PER_MESSAGE_PROFILE]);
    const reply = await answers("/agent coder", 2); // the bot's own reply: no face
    expect(reply.content).not.toHaveProperty([PER_MESSAGE_PROFILE]);
    const coder = await answers("my name is Ada", 3);
    expect(coder.content[PER_MESSAGE_PROFILE]).toEqual({ id: "coder", displayname: "Coder", has_fallback: true });
    expect(coder.content["body"]).toBe("Coder: You said: my name is Ada (I remember 0 earlier messages)");
    expect(String(coder.content["formatted_body"])).toMatch(/^<strong data-mx-profile-fallback>Coder: <\/strong>/);
  });
});
