// Each named agent its own user in appservice mode: `@<sender_localpart>_<name>:<server>` (the registration's users
// namespace covers it: `npm run register`, checked by `npm run doctor`). At start each one is registered (M_USER_IN_USE
// is fine) and given its displayName and avatar from AGENTS_FILE (only when they differ: a profile change is a member
// event in every room). Before the first message for a room's agent, its user joins the room (invited by the bot where
// needed); what it sends goes out as that user (src/app/faces.ts). The global default agent is the bot itself.
// Inviting an agent's user to a room or DM selects that agent there: its user joins, and so does the bot (invited by
// the agent's user), so a DM with an agent's user stays a DM (the room directory counts both as the bot's own).
import type { Logger } from "pino";
import type { Config } from "../config";
import type { RoomAgents } from "../agent/room-agents";
import { agentUserId } from "../matrix/appservice-protocol";
import { MatrixRequestError } from "../matrix/errors";
import { viaFor, type InviteNotice, type RoomEvent } from "../matrix/events";
import { enc, type MatrixHttp } from "../matrix/http";
import type { RoomEventObserver } from "../router";
import type { StartedAgent } from "./agent";

export interface AgentUsers {
  /** The user the room's current agent sends as; undefined: the bot itself (the default agent, or its user is unusable). */
  userFor(roomId: string): Promise<string | undefined>;
  /** The user of agent `name` (any agent's, not only the room's current one), joined to the room; undefined as in userFor. */
  userOfAgentIn(name: string, roomId: string): Promise<string | undefined>;
  /** A send as `userId` was refused in `roomId` (kicked, say): it joins again before the next one. */
  forget(roomId: string, userId: string): void;
  /** Registers each agent's user and sets its profile (failures are logged: that agent then speaks through the bot). */
  start(): Promise<void>;
  /** Invites of an agent's user, from people the bot serves. */
  readonly invites: RoomEventObserver;
  /** Whether `userId` is one of the agents' users. */
  isAgentUser(userId: string): boolean;
}

export interface AgentUsersDeps {
  http: MatrixHttp;
  botUserId: string;
  senderLocalpart: string;
  agent: Pick<StartedAgent, "agents" | "defaultAgent">;
  roomAgents: Pick<RoomAgents, "current" | "choose">;
  isAllowedUser: (userId: string) => boolean;
  isBotJoined: (roomId: string) => Promise<boolean>;
  /** The bot joined a room on a person's invite of an agent's user (what the bot does after any invite). */
  onBotJoined: (invite: InviteNotice) => Promise<void>;
  log: Logger;
}

type Definition = { name: string; displayName?: string; avatar?: string };

export function createAgentUsers(deps: AgentUsersDeps): AgentUsers {
  const { http, log } = deps;
  const server = deps.botUserId.slice(deps.botUserId.indexOf(":") + 1);
  const users = new Map<string, string>(); // agent name → its user id
  const agentOf = new Map<string, string>(); // user id → agent name
  for (const name of deps.agent.agents.keys()) {
    if (name === deps.agent.defaultAgent) continue;
    const userId = agentUserId(deps.senderLocalpart, name, server);
    users.set(name, userId);
    agentOf.set(userId, name);
  }
  const usable = new Set<string>();
  const joins = new Map<string, Promise<boolean>>(); // `${roomId}|${userId}` → joined

  const as = (userId: string): { user_id: string } => ({ user_id: userId });
  const join = async (roomId: string, userId: string, via: string[] = []): Promise<void> => {
    await http.request("POST", `/_matrix/client/v3/join/${enc(roomId)}`, { query: { ...as(userId), ...(via.length > 0 ? { server_name: via } : {}) }, body: {} });
  };

  const ensureJoined = (roomId: string, userId: string): Promise<boolean> => {
    const key = `${roomId}|${userId}`;
    let joined = joins.get(key);
    if (!joined) {
      joined = (async () => {
        try {
          await join(roomId, userId);
        } catch (e) {
          if (!(e instanceof MatrixRequestError) || e.status !== 403) throw e;
          await http.request("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { body: { user_id: userId } });
          await join(roomId, userId);
        }
        log.info({ roomId, userId }, "agent user joined the room");
        return true;
      })().catch((e: unknown) => {
        joins.delete(key);
        log.warn({ roomId, userId, err: describe(e) }, "agent user could not join the room: the bot sends for it");
        return false;
      });
      joins.set(key, joined);
    }
    return joined;
  };

  const userOfAgentIn = async (name: string, roomId: string): Promise<string | undefined> => {
    const userId = users.get(name);
    if (userId === undefined || !usable.has(userId)) return undefined;
    return (await ensureJoined(roomId, userId)) ? userId : undefined;
  };

  const setUp = async (definition: Definition, userId: string): Promise<void> => {
    const username = userId.slice(1, userId.indexOf(":"));
    try {
      await http.request("POST", "/_matrix/client/v3/register", { body: { type: "m.login.application_service", username, inhibit_login: true } });
      log.info({ userId }, "agent user registered");
    } catch (e) {
      if (!(e instanceof MatrixRequestError) || e.errcode !== "M_USER_IN_USE") throw e;
    }
    const profile = await http.request<{ displayname?: unknown; avatar_url?: unknown }>("GET", `/_matrix/client/v3/profile/${enc(userId)}`)
      .catch(() => ({} as { displayname?: unknown; avatar_url?: unknown }));
    const displayname = definition.displayName ?? definition.name;
    if (profile.displayname !== displayname) {
      await http.request("PUT", `/_matrix/client/v3/profile/${enc(userId)}/displayname`, { query: as(userId), body: { displayname } });
    }
    if (definition.avatar !== undefined && profile.avatar_url !== definition.avatar) {
      await http.request("PUT", `/_matrix/client/v3/profile/${enc(userId)}/avatar_url`, { query: as(userId), body: { avatar_url: definition.avatar } });
    }
    usable.add(userId);
  };

  const onInvite = async (event: RoomEvent): Promise<void> => {
    const invitee = event.state_key;
    const name = invitee !== undefined ? agentOf.get(invitee) : undefined;
    if (event.type !== "m.room.member" || event.content["membership"] !== "invite" || invitee === undefined || name === undefined) return;
    if (agentOf.has(event.sender) || event.sender === deps.botUserId) return; // its own invites (ensureJoined)
    const roomId = event.room_id;
    if (!usable.has(invitee) || !deps.isAllowedUser(event.sender)) {
      log.info({ roomId, inviter: event.sender, userId: invitee }, "agent user's invite declined");
      await http.request("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, { query: as(invitee), body: {} }).catch(() => undefined);
      return;
    }
    const via = viaFor(roomId, event.sender);
    await join(roomId, invitee, via);
    joins.set(`${roomId}|${invitee}`, Promise.resolve(true));
    await deps.roomAgents.choose(roomId, name);
    log.info({ roomId, inviter: event.sender, agent: name }, "agent user joined on invite: the room talks to it");
    if (await deps.isBotJoined(roomId)) return;
    await http.request("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { query: as(invitee), body: { user_id: deps.botUserId } });
    await http.request("POST", `/_matrix/client/v3/join/${enc(roomId)}`, { query: { server_name: via }, body: {} });
    await deps.onBotJoined({ roomId, inviter: event.sender, isDirect: event.content["is_direct"] === true, via });
  };

  return {
    userFor: async (roomId) => userOfAgentIn((await deps.roomAgents.current(roomId)).name, roomId),
    userOfAgentIn,
    forget: (roomId, userId) => void joins.delete(`${roomId}|${userId}`),
    async start() {
      for (const [name, userId] of users) {
        const definition = deps.agent.agents.get(name)?.definition ?? { name };
        await setUp(definition, userId).catch((e: unknown) => log.error({ userId, err: describe(e) }, // runbook/troubleshooting.md
          "agent user could not be set up: the bot sends for this agent"));
      }
    },
    invites: { name: "agent-user-invites", onEvent: onInvite },
    isAgentUser: (userId) => agentOf.has(userId),
  };
}

/** The agent users of appservice mode with named agents; undefined otherwise (client mode: MSC4144 faces). */
export function wireAgentUsers(deps: Omit<AgentUsersDeps, "senderLocalpart"> & { config: Pick<Config, "mode" | "registration"> }): AgentUsers | undefined {
  const { config, ...rest } = deps;
  const named = [...deps.agent.agents.keys()].some((name) => name !== deps.agent.defaultAgent);
  if (config.mode !== "appservice" || config.registration === undefined || !named) return undefined;
  return createAgentUsers({ ...rest, senderLocalpart: config.registration.sender_localpart });
}

function describe(e: unknown): string {
  return e instanceof MatrixRequestError ? e.describe() : String(e);
}
