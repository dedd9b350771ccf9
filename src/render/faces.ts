// Each agent its own face in client mode: MSC4144's per-message profile (unstable `com.beeper.per_message_profile`)
// on every message the bot sends for an agent that has a face, with the fallback that clients without MSC4144 show
// (`Name: ` before the body, `<strong data-mx-profile-fallback>Name: </strong>` before the formatted body, so that
// clients with MSC4144 can strip it: `has_fallback: true`). Edits carry the profile (and the fallback) in
// `m.new_content`, which is what clients show; the edit's own fallback (`* …`) gets the name after the star.
import { MATRIX_HTML_FORMAT, neutralizeRoomMentions } from "../matrix/format";

/** MSC4144's unstable field. */
export const PER_MESSAGE_PROFILE = "com.beeper.per_message_profile";
/** The attribute that marks the fallback in the formatted body. */
export const PROFILE_FALLBACK_ATTRIBUTE = "data-mx-profile-fallback";

type Content = Record<string, unknown>;

export interface AgentFace {
  /** The agent's name (stable: clients group messages by it). */
  readonly id: string;
  readonly displayname: string;
  readonly avatarUrl?: string;
}

/**
 * The face of an agent, or none when its messages are the bot's own: the global default agent shows the bot's own
 * profile unless AGENTS_FILE gives it a displayName or avatar; every other agent shows its displayName (else its
 * name) and avatar.
 */
export function faceOf(agent: { name: string; displayName?: string; avatar?: string }, defaultAgent: string): AgentFace | undefined {
  if (agent.name === defaultAgent && agent.displayName === undefined && agent.avatar === undefined) return undefined;
  return { id: agent.name, displayname: agent.displayName ?? agent.name, ...(agent.avatar !== undefined ? { avatarUrl: agent.avatar } : {}) };
}

/** `content` of an event of `type` as the agent with `face` sends it (only m.room.message events carry a profile). */
export function withFace(type: string, content: Content, face: AgentFace | undefined): Content {
  if (face === undefined || type !== "m.room.message" || "redacts" in content || PER_MESSAGE_PROFILE in content) return content;
  const inner = content["m.new_content"];
  if (inner !== null && typeof inner === "object") {
    if (PER_MESSAGE_PROFILE in inner) return content;
    if (!TEXT_MSGTYPES.has(String((inner as Content)["msgtype"]))) return { ...content, "m.new_content": faced(inner as Content, face) };
    // An edit: the profile where clients read the replacement; its own fallback names the agent after "* ".
    return { ...withFallback(content, face, "* "), "m.new_content": faced(inner as Content, face) };
  }
  return faced(content, face);
}

/** Message types whose body is text (a file's body is its name: it gets the profile, no fallback). */
const TEXT_MSGTYPES = new Set(["m.text", "m.notice", "m.emote"]);

function faced(content: Content, face: AgentFace): Content {
  const text = TEXT_MSGTYPES.has(String(content["msgtype"]));
  const profile = { id: face.id, displayname: face.displayname, ...(face.avatarUrl !== undefined ? { avatar_url: face.avatarUrl } : {}), has_fallback: text };
  return { ...(text ? withFallback(content, face, "") : content), [PER_MESSAGE_PROFILE]: profile };
}

/** The name before the body and the formatted body (after `lead`, the edit fallback's "* ", when they start with it). */
function withFallback(content: Content, face: AgentFace, lead: string): Content {
  const body = content["body"];
  if (typeof body !== "string") return content;
  const name = neutralizeRoomMentions(face.displayname);
  const html = typeof content["formatted_body"] === "string" ? content["formatted_body"] : escapeHtml(body).replace(/\n/g, "<br>");
  const strong = `<strong ${PROFILE_FALLBACK_ATTRIBUTE}>${escapeHtml(name)}: </strong>`;
  return { ...content, body: prefixed(body, lead, `${name}: `), format: MATRIX_HTML_FORMAT, formatted_body: prefixed(html, lead, strong) };
}

function prefixed(text: string, lead: string, prefix: string): string {
  return lead !== "" && text.startsWith(lead) ? `${lead}${prefix}${text.slice(lead.length)}` : `${prefix}${text}`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
