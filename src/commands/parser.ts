// Recognizes commands in a room message. Forms:
//   /name args            !name args                      (prefixed; Element swallows unknown "/" commands)
//   @bot:server name args  <pill> name args  Bot: name args  (addressed; also "@bot !name", "Bot, /name")
// The name is an exact token (letters, digits, "_" and "-", followed by whitespace or the end), compared
// case-insensitively. Whether an unprefixed addressed word is a command at all is the handler's decision
// (only known names are): "@bot tell me a joke" is a message for the agent.
import type { RoomEvent } from "../matrix/events";
import { isMentioned, relationOf, stripReplyFallback } from "../turns/classify";

export interface ParsedCommand {
  /** Lowercased command name, without prefix. */
  name: string;
  /** Whitespace-separated arguments, as typed. */
  args: string[];
  /** The command text after any address, trimmed (e.g. "/mode all", "mode all"). */
  raw: string;
  /** The message addresses the bot: it starts with its name/pill, or mentions it (m.mentions, pill). */
  addressed: boolean;
  /** "/" or "!" when typed with a prefix; null for the bare word after an address ("@bot help"). */
  prefix: "/" | "!" | null;
}

export interface ParserFacts {
  botUserId: string;
  botDisplayName?: string;
}

const COMMAND = /^([/!])?([A-Za-z][A-Za-z0-9_-]*)(?=\s|$)/;
const SEPARATOR = /^(?:[:,]\s*|\s+)/;

/** The command in a message, or undefined when it is not one. Pure. */
export function parseCommand(event: RoomEvent, facts: ParserFacts): ParsedCommand | undefined {
  if (event.type !== "m.room.message" || event.sender === facts.botUserId) return undefined;
  if (event.content["msgtype"] !== "m.text") return undefined;
  const rawBody = event.content["body"];
  if (typeof rawBody !== "string") return undefined;
  const relation = relationOf(event);
  if (relation.relType === "m.replace") return undefined;
  const body = (relation.inReplyTo ? stripReplyFallback(rawBody) : rawBody).trim();
  const html = typeof event.content["formatted_body"] === "string" ? event.content["formatted_body"] : undefined;

  const afterAddress = addressRemainder(body, html, facts);
  const text = afterAddress ?? body;
  const match = COMMAND.exec(text);
  if (!match || match[2] === undefined) return undefined;
  const prefix = match[1] === "/" || match[1] === "!" ? match[1] : null;
  if (prefix === null && afterAddress === undefined) return undefined; // a plain sentence
  const rest = text.slice(match[0].length).trim();
  return {
    name: match[2].toLowerCase(),
    args: rest === "" ? [] : rest.split(/\s+/),
    raw: text,
    addressed: afterAddress !== undefined || isMentioned(event, body, { botUserId: facts.botUserId, isDirect: false }),
    prefix,
  };
}

/** The text after the bot's address at the start of the message, or undefined when it does not start so. */
function addressRemainder(body: string, html: string | undefined, facts: ParserFacts): string | undefined {
  const fromPill = html !== undefined ? pillRemainder(html, facts.botUserId) : undefined;
  if (fromPill !== undefined) return fromPill;
  const localpart = facts.botUserId.slice(1).split(":")[0] ?? "";
  const names = [facts.botUserId, facts.botDisplayName, localpart, `@${localpart}`]
    .filter((n): n is string => n !== undefined && n.trim() !== "")
    .sort((a, b) => b.length - a.length); // longest first: "Bot Helper" before "Bot"
  const lower = body.toLowerCase();
  for (const name of names) {
    if (!lower.startsWith(name.toLowerCase())) continue;
    const sep = SEPARATOR.exec(body.slice(name.length));
    if (!sep) continue;
    const rest = body.slice(name.length + sep[0].length).trim();
    if (rest !== "") return rest;
  }
  return undefined;
}

/** formatted_body starting with a pill (<a href="https://matrix.to/#/@bot…">…</a>): the plain text after it. */
function pillRemainder(html: string, botUserId: string): string | undefined {
  const pill = /^\s*<a\s[^>]*href\s*=\s*(["'])([^"']*)\1[^>]*>[\s\S]*?<\/a>/i.exec(html);
  if (!pill || pill[2] === undefined) return undefined;
  const href = decodeEntities(pill[2]);
  const targets = [`https://matrix.to/#/${botUserId}`, `https://matrix.to/#/${encodeURIComponent(botUserId)}`];
  if (!targets.some((t) => href === t || href.startsWith(`${t}?`))) return undefined;
  const after = htmlToText(html.slice(pill[0].length));
  const rest = after.replace(/^[:,]?\s*/, "").trim();
  return rest === "" ? undefined : rest;
}

function htmlToText(html: string): string {
  return decodeEntities(html.replace(/<br\s*\/?>/gi, "\n").replace(/<[^>]*>/g, ""));
}

function decodeEntities(text: string): string {
  return text
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, "\"")
    .replace(/&#0*39;|&apos;/g, "'")
    .replace(/&amp;/g, "&");
}
