// What an AG-UI interrupt asks of people, and how their answers read. An interrupt with `toolCallId` is an approval
// (also one with no response schema: yes or no); a `responseSchema` with `enum`, or `oneOf` of `const`, of at most 20
// strings is a choice (a poll); a string schema asks for free text. Answers: ✅/✔️ or ❌ reactions (with or without
// U+FE0F), a reply "yes"/"no", `!approve`/`!deny` (also `/…`); a poll vote; the asker's next message in the thread.
import type { AgentInterrupt } from "../agent/protocol-v2";

export const MAX_CHOICES = 20;

export type PromptKind =
  | { kind: "approval" }
  | { kind: "choice"; options: string[] }
  | { kind: "text" };

export const APPROVE_KEY = "✅";
export const DENY_KEY = "❌";

/** The kind of prompt an interrupt becomes. */
export function kindOf(interrupt: AgentInterrupt): PromptKind {
  if (interrupt.toolCallId !== undefined) return { kind: "approval" };
  const schema = interrupt.responseSchema as Record<string, unknown> | undefined;
  if (schema === undefined) return { kind: "approval" };
  const options = choicesOf(schema);
  if (options !== undefined) return { kind: "choice", options };
  if (schema["type"] === "string") return { kind: "text" };
  return { kind: "approval" };
}

function choicesOf(schema: Record<string, unknown>): string[] | undefined {
  const list = Array.isArray(schema["enum"]) ? schema["enum"]
    : Array.isArray(schema["oneOf"]) ? (schema["oneOf"] as unknown[]).map((o) => (typeof o === "object" && o !== null ? (o as Record<string, unknown>)["const"] : undefined))
      : undefined;
  if (list === undefined || list.length === 0 || list.length > MAX_CHOICES) return undefined;
  if (!list.every((v): v is string => typeof v === "string" && v !== "")) return undefined;
  return [...new Set(list)];
}

const SUMMARY_MAX = 300;

/** At most `max` characters, cut with "…". */
export function clip(text: string, max = SUMMARY_MAX): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

/** The tool and a short summary of its arguments, from the interrupt's metadata (as the reference agent sends them). */
function toolLine(interrupt: AgentInterrupt): string | undefined {
  const meta = (interrupt.metadata ?? {}) as Record<string, unknown>;
  const name = typeof meta["toolCallName"] === "string" ? meta["toolCallName"] : undefined;
  if (name === undefined) return undefined;
  const args = meta["arguments"];
  const summary = args === undefined ? "" : typeof args === "string" ? args : JSON.stringify(args);
  return `Tool: \`${clip(name, 80)}\`${summary !== "" && summary !== "{}" ? ` ${clip(summary.replace(/\s+/g, " "))}` : ""}`;
}

/** The prompt's text (markdown). */
export function promptText(interrupt: AgentInterrupt, kind: PromptKind): string {
  const ask = clip(interrupt.message ?? interrupt.reason, 1000);
  switch (kind.kind) {
    case "approval": {
      const tool = toolLine(interrupt);
      return [`🔐 ${ask}`, ...(tool ? [tool] : []), `React ${APPROVE_KEY} to approve or ${DENY_KEY} to deny (or reply yes/no).`].join("\n\n");
    }
    case "choice":
      return `❓ ${ask}\n\n${kind.options.map((o, i) => `${i + 1}. ${o}`).join("\n")}`;
    case "text":
      return `✏️ ${ask}\n\nYour next message in this conversation is the answer.`;
  }
}

/** An approval answer read from a reaction key: ✅ or ✔ approve, ❌ denies (variation selector U+FE0F ignored). */
export function approvalOfReaction(key: string): boolean | undefined {
  const bare = key.replace(/\uFE0F/g, "").trim();
  if (bare === "✅" || bare === "✔") return true;
  if (bare === "❌") return false;
  return undefined;
}

/** "yes"/"no" (a reply to a prompt, or in its thread). */
export function approvalOfWords(body: string): boolean | undefined {
  const word = body.trim().toLowerCase().replace(/[.!]+$/, "");
  if (word === "yes" || word === "y") return true;
  if (word === "no" || word === "n") return false;
  return undefined;
}

/** `!approve` / `!deny` (or `/approve`, `/deny`). */
export function approvalOfCommand(body: string): boolean | undefined {
  const word = body.trim().toLowerCase();
  if (word === "!approve" || word === "/approve") return true;
  if (word === "!deny" || word === "/deny") return false;
  return undefined;
}
