// `npm run doctor` in appservice mode with named agents: the registration's users namespace must cover each agent's
// own user, `@<sender_localpart>_<name>:<server>` (what `npm run register` reserves), or the homeserver refuses the
// bot acting as them. An agent whose messages are the bot's own (the global default without a displayName or
// avatar) needs none.
import type { Config } from "../config";
import { agentUserId, userNamespaceRegexes } from "../matrix/appservice-protocol";
import { faceOf } from "../render/faces";

export type AgentUsersCheck = { status: "pass" | "fail"; detail: string; fix?: string } | undefined;

/** The check for the bot `botUserId` (from whoami); undefined when it does not apply (client mode, no named agents). */
export function checkAgentUsers(config: Config, botUserId: string): AgentUsersCheck {
  const registration = config.registration;
  if (config.mode !== "appservice" || !registration || !config.agents) return undefined;
  const serverName = botUserId.slice(botUserId.indexOf(":") + 1);
  const users = config.agents.agents.filter((a) => faceOf(a, config.agents?.defaultAgent ?? "") !== undefined)
    .map((a) => agentUserId(registration.sender_localpart, a.name, serverName));
  if (users.length === 0) return undefined;
  const namespace = userNamespaceRegexes(registration);
  const outside = users.filter((u) => !namespace.some((re) => re.test(u)));
  if (outside.length === 0) return { status: "pass", detail: `the registration's users namespace covers ${users.join(", ")}` };
  return { status: "fail",
    detail: `the registration's users namespace is narrower than the agents' own users: it does not cover ${outside.join(", ")}`,
    fix: `run \`npm run register\` again (it reserves @${registration.sender_localpart}_*), or add to namespaces.users ` +
      `{ exclusive: true, regex: "@${registration.sender_localpart}_.*:${serverName.replace(/\./g, "\\\\.")}" }; ` +
      "give the homeserver the same file and restart it" };
}
