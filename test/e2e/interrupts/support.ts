// A scripted v2 agent that pauses its runs with interrupts (AG-UI RUN_FINISHED outcome "interrupt") and answers a
// resume run with the answers it got, and helpers to read the prompts the bot posts.
import type { ClientEvent } from "../../support/homeserver/types";
import { Scenario } from "../../support/scenario";
import { LIVE_TEST_ENV } from "../live/support";
import { startScriptedAgent, type ScriptedAgent } from "../../support/scripted-agent";
import { botMessagesIn } from "../../support/bot-messages";

/** What the helpers read: the homeserver double and the bot's user (a Scenario, or a crash world's child bot). */
export type World = Pick<Scenario, "hs" | "botUserId">;

export const APPROVAL = { id: "i1", reason: "tool_approval", message: "Send the mail to Bob?", toolCallId: "c1",
  metadata: { toolCallName: "send_mail", arguments: { to: "bob@example.org", subject: "Hi" } } };

/** Each run without `resume` pauses with `interrupts`; a resume run answers "resumed: <its resume entries as JSON>". */
export async function startPausingAgent(interrupts: Array<Record<string, unknown>> = [APPROVAL]): Promise<ScriptedAgent> {
  return startScriptedAgent({
    protocol: 2,
    onFrame: (conn, frame) => {
      if (frame.op !== "run") return;
      const runId = String(frame.runId);
      const names = { threadId: conn.threadOf(runId), runId };
      const resume = (frame.input as { resume?: unknown }).resume;
      if (resume !== undefined) {
        conn.answer(runId, `resumed: ${JSON.stringify(resume)}`);
        return;
      }
      conn.event(runId, { type: "RUN_STARTED", ...names });
      conn.event(runId, { type: "RUN_FINISHED", ...names, outcome: { type: "interrupt", interrupts } });
    },
  });
}

/** The run frames that carried resume entries. */
export function resumeRuns(agent: ScriptedAgent): Array<Record<string, unknown>> {
  return agent.runs().filter((r) => (r.input as { resume?: unknown }).resume !== undefined);
}

export function shown(e: ClientEvent): string {
  return String(((e.content["m.new_content"] as Record<string, unknown> | undefined) ?? e.content)["body"] ?? "");
}

/** The bot's prompt messages in a room (approval or question), as first posted. */
export function prompts(s: World, roomId: string, mark = "🔐"): ClientEvent[] {
  return s.hs.sent({ roomId, sender: s.botUserId, type: "m.room.message" })
    .filter((e) => e.content["m.relates_to"] === undefined || (e.content["m.relates_to"] as Record<string, unknown>)["rel_type"] !== "m.replace")
    .filter((e) => String(e.content["body"]).startsWith(mark));
}

/** Edits of a prompt (what it shows after its answer). */
export function promptEdits(s: World, roomId: string, promptId: string): string[] {
  return s.hs.sent({ roomId, sender: s.botUserId, type: "m.room.message" })
    .filter((e) => (e.content["m.relates_to"] as Record<string, unknown> | undefined)?.["event_id"] === promptId
      && (e.content["m.relates_to"] as Record<string, unknown>)["rel_type"] === "m.replace")
    .map(shown);
}

export function reactionsOn(s: World, roomId: string, eventId: string, sender = s.botUserId): string[] {
  return s.hs.sent({ roomId, sender, type: "m.reaction" })
    .filter((e) => (e.content["m.relates_to"] as Record<string, unknown> | undefined)?.["event_id"] === eventId)
    .map((e) => String((e.content["m.relates_to"] as Record<string, unknown>)["key"]));
}

export function react(content: { eventId: string; key: string }): Record<string, unknown> {
  return { "m.relates_to": { rel_type: "m.annotation", event_id: content.eventId, key: content.key } };
}

/** Bot answers whose text starts with "resumed:". */
export function resumedAnswers(s: World, roomId: string): string[] {
  return botMessagesIn(s.hs, roomId, s.botUserId).map(shown).filter((b) => b.startsWith("resumed:"));
}

export async function waitPrompts(s: World, roomId: string, count = 1, mark = "🔐"): Promise<ClientEvent[]> {
  return s.hs.waitFor(() => { const p = prompts(s, roomId, mark); return p.length >= count ? p : undefined; }, { what: `${count} prompt(s)` });
}

/** A pausing agent, the bot (client mode) and a DM where Alice asked "mail Bob": the world and the first prompt. */
export async function dmWithPrompt(env: Record<string, string> = {}, interrupts?: Array<Record<string, unknown>>, mark = "🔐") {
  const agent = await startPausingAgent(interrupts);
  const s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, ...LIVE_TEST_ENV, ...env } });
  const roomId = await s.openDm();
  await s.alice.sendText(roomId, "mail Bob");
  const [prompt] = await waitPrompts(s, roomId, 1, mark);
  return { agent, s, roomId, promptId: String(prompt?.event_id), prompt };
}
