// Each agent its own face (client mode): every message the bot sends for a room's agent (answers, their live edits,
// failure notices, attachments, prompts) carries that agent's per-message profile (src/render/faces.ts). The bot's
// own messages (command replies, notices about the room) go out undecorated. The face is the room's agent's when
// the message is sent.
import type { RoomAgents } from "../agent/room-agents";
import type { RoomMessageSender, SendResult } from "../matrix/sender";
import type { Outbox } from "../outbox";
import { faceOf, withFace, type AgentFace } from "../render/faces";
import type { StartedAgent } from "./agent";

type Content = Record<string, unknown>;
export type FaceFor = (roomId: string) => Promise<AgentFace | undefined>;
type OutboxSend = Pick<Outbox, "send" | "isRecorded">;

/** The face of each room's current agent (none for an agent whose messages are the bot's own). */
export function roomFaces(agent: Pick<StartedAgent, "agents" | "defaultAgent">, roomAgents: Pick<RoomAgents, "current">): FaceFor {
  const faces = new Map<string, AgentFace | undefined>();
  for (const [name, { definition }] of agent.agents) faces.set(name, faceOf(definition, agent.defaultAgent));
  if ([...faces.values()].every((f) => f === undefined)) return async () => undefined;
  return async (roomId) => faces.get((await roomAgents.current(roomId)).name);
}

/**
 * Appservice mode (src/app/agent-users.ts): the user the room's agent sends as, if it has one; then its messages carry
 * no per-message profile (the user is the face). `forget`: a send as it was refused (it joins again next time).
 */
export interface SendingUsers {
  userFor(roomId: string): Promise<string | undefined>;
  forget(roomId: string, userId: string): void;
}

/** `messages` sending as the room's agent. */
export function facedMessages(messages: RoomMessageSender, faceFor: FaceFor, users?: SendingUsers): RoomMessageSender {
  return { ...messages, sendEvent: (roomId, type, content, txnId) =>
    facedSend(faceFor, users, roomId, type, content, (c, asUser) => messages.sendEvent(roomId, type, c, txnId, asUser)),
    ...(users ? { setTyping: async (roomId, typing, timeoutMs) =>
      messages.setTyping(roomId, typing, timeoutMs, await users.userFor(roomId).catch(() => undefined)) } : {}) };
}

/** `outbox` sending as the room's agent (live edits and the recovery of live messages go through it). */
export function facedOutbox(outbox: OutboxSend, faceFor: FaceFor, users?: SendingUsers): OutboxSend {
  return {
    isRecorded: (txnId) => outbox.isRecorded(txnId),
    send: (roomId, type, content, txnId, opts) =>
      facedSend(faceFor, users, roomId, type, content, (c, asUser) => outbox.send(roomId, type, c, txnId, opts, asUser)),
  };
}

async function facedSend(faceFor: FaceFor, users: SendingUsers | undefined, roomId: string, type: string, content: Content,
  send: (c: Content, asUser?: string) => Promise<SendResult>): Promise<SendResult> {
  const asUser = users ? await users.userFor(roomId).catch(() => undefined) : undefined;
  if (asUser !== undefined) {
    const result = await send(content, asUser);
    if (!result.ok && result.error.kind === "forbidden") users?.forget(roomId, asUser);
    return result;
  }
  const face = type === "m.room.message" ? await faceFor(roomId).catch(() => undefined) : undefined;
  return send(withFace(type, content, face));
}

/**
 * An outbox's enqueue for `face`'s agent (its own runs fanned out to rooms). `userIn` (appservice mode): the agent's own
 * user, joined to the room, that sends there instead (without the profile); undefined: the bot sends, with the face.
 */
export function facedEnqueue(outbox: Pick<Outbox, "enqueue">, face: AgentFace | undefined,
  userIn?: (roomId: string) => Promise<string | undefined>): Pick<Outbox, "enqueue"> {
  if (face === undefined && userIn === undefined) return outbox;
  return {
    enqueue: async (entries) => outbox.enqueue(await Promise.all(entries.map(async (e) => {
      const asUser = userIn ? await userIn(e.roomId).catch(() => undefined) : undefined;
      return asUser !== undefined ? { ...e, asUser } : { ...e, content: withFace(e.type, e.content, face) };
    }))),
  };
}

/** The global default agent's face (its own runs, POST /proactive). */
export function agentFace(agent: Pick<StartedAgent, "agents" | "defaultAgent">): AgentFace | undefined {
  const definition = agent.agents.get(agent.defaultAgent)?.definition;
  return definition ? faceOf(definition, agent.defaultAgent) : undefined;
}
