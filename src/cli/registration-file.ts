// Builds an appservice registration (fresh random tokens, an exclusive user namespace for the bot's localpart and
// for `<localpart>_*`, the flags with which the homeserver puts encryption's data in transactions for
// MATRIX_E2EE=true) and the instructions an operator follows to give it to Synapse and to the bot. Never prints a token.
import { randomBytes } from "node:crypto";
import { stringify } from "yaml";
import { registrationSchema, type Registration } from "../config";
import { ENCRYPTION_REGISTRATION_FLAGS, SYNAPSE_ENCRYPTION_FEATURES } from "../matrix/appservice-crypto";

export interface RegistrationRequest {
  /** Appservice id, unique on the homeserver. */
  id: string;
  /** Where the homeserver reaches the bot's appservice listener (APPSERVICE_BIND), e.g. http://bot:9999. */
  url: string;
  /** The bot user's localpart, e.g. agentbot → @agentbot:<serverName>. */
  localpart: string;
  /** The homeserver's server_name (the part after ":" in user ids). */
  serverName: string;
}

export const REGISTRATION_DEFAULTS = {
  id: "matrix-agent-bot",
  url: "http://127.0.0.1:9999",
  localpart: "agentbot",
  out: "registration.yaml",
} as const;

const LOCALPART = /^[a-z0-9._=\-/+]+$/;
const SERVER_NAME = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;
const APPSERVICE_ID = /^[A-Za-z0-9._-]+$/;

/** Problems with the request, as "--option: what is wrong" lines (empty when fine). */
export function registrationRequestProblems(request: RegistrationRequest): string[] {
  const problems: string[] = [];
  if (!APPSERVICE_ID.test(request.id)) problems.push("--id: use letters, digits, '.', '_' and '-' only");
  if (!LOCALPART.test(request.localpart)) {
    problems.push("--localpart: a Matrix localpart uses only a-z 0-9 . _ = - / + (lower case), e.g. agentbot");
  }
  if (!SERVER_NAME.test(request.serverName)) {
    problems.push("--server-name: give the homeserver's server_name, e.g. example.org (the part after ':' in user ids)");
  }
  let url: URL | undefined;
  try {
    url = new URL(request.url);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.host === "") {
    problems.push("--url: give the http:// URL where the homeserver reaches the bot, e.g. http://127.0.0.1:9999");
  }
  return problems;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** A new token: 32 random bytes, URL-safe base64 (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

export function buildRegistration(request: RegistrationRequest): Registration {
  const localpart = escapeRegExp(request.localpart);
  const server = escapeRegExp(request.serverName);
  return registrationSchema.parse({
    id: request.id,
    url: request.url.replace(/\/+$/, ""),
    as_token: newToken(),
    hs_token: newToken(),
    sender_localpart: request.localpart,
    rate_limited: false,
    namespaces: {
      // The bot's own user, and `@<localpart>_<name>` for the users it will act through (one per agent).
      users: [{ exclusive: true, regex: `@${localpart}:${server}` }, { exclusive: true, regex: `@${localpart}_.*:${server}` }],
      aliases: [],
      rooms: [],
    },
    // Harmless without encryption: the bot ignores ephemeral events, and a homeserver without the features ignores them.
    ...Object.fromEntries(ENCRYPTION_REGISTRATION_FLAGS.map((flag) => [flag, true])),
  });
}

export function registrationYaml(registration: Registration): string {
  const header = [
    "# Appservice registration for matrix-agent-bot, written by `npm run register`.",
    "# It holds two secrets: as_token (the bot uses it towards the homeserver) and hs_token (the homeserver",
    "# uses it towards the bot). Give the same file to the homeserver (app_service_config_files) and to the bot",
    "# (MATRIX_REGISTRATION). Keep it private; to rotate the tokens, run `npm run register` again and restart both.",
  ];
  return `${header.join("\n")}\n${stringify(registration)}`;
}

/** APPSERVICE_BIND that matches the registration's url: loopback stays loopback, anything else listens on all interfaces. */
export function appserviceBindFor(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port !== "" ? parsed.port : parsed.protocol === "https:" ? "443" : "80";
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(parsed.hostname);
  return `${loopback ? "127.0.0.1" : "0.0.0.0"}:${port}`;
}

/** What to tell the operator after writing the file at `absolutePath`. Contains no token. */
export function registrationInstructions(registration: Registration, request: RegistrationRequest,
  absolutePath: string): string[] {
  const bind = appserviceBindFor(request.url);
  return [
    `Wrote ${absolutePath} (readable only by you: it holds the appservice's two tokens).`,
    `  appservice id: ${registration.id}`,
    `  bot user:      @${registration.sender_localpart}:${request.serverName}`,
    `  also reserved: @${registration.sender_localpart}_*:${request.serverName} (for the bot's per-agent users)`,
    `  Synapse calls the bot at ${registration.url ?? request.url}`,
    "",
    "1. Give the file to Synapse: copy it where Synapse can read it, add these lines to homeserver.yaml",
    "   (with the path as Synapse sees it), then restart Synapse:",
    "",
    "app_service_config_files:",
    `  - ${absolutePath}`,
    "",
    "   For encrypted rooms (MATRIX_E2EE=true) add these too (runbook/appservice-synapse.md):",
    "",
    "experimental_features:",
    ...SYNAPSE_ENCRYPTION_FEATURES.map((feature) => `  ${feature}: true`),
    "",
    "2. Point the bot at the same file, in .env:",
    "",
    `MATRIX_REGISTRATION=${absolutePath}`,
    `APPSERVICE_BIND=${bind}`,
    "",
    "3. Check the setup: npm run doctor",
  ];
}
