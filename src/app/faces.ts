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

/** `messages` sending as the room's agent. */
export function facedMessages(messages: RoomMessageSender, faceFor: FaceFor): RoomMessageSender {
  return { ...messages, sendEvent: (roomId, type, content, txnId) => facedSend(faceFor, roomId, type, content, (c) => messages.sendEvent(roomId, type, c, txnId)) };
}

/** `outbox` sending as the room's agent (live edits and the recovery of live messages go through it). */
export function facedOutbox(outbox: OutboxSend, faceFor: FaceFor): OutboxSend {
  return {
    isRecorded: (txnId) => outbox.isRecorded(txnId),
    send: (roomId, type, content, txnId, opts) => facedSend(faceFor, roomId, type, content, (c) => outbox.send(roomId, type, c, txnId, opts)),
  };
}

async function facedSend(faceFor: FaceFor, roomId: string, type: string, content: Content, send: (c: Content) => Promise<SendResult>): Promise<SendResult> {
  const face = type === "m.room.message" ? await faceFor(roomId).catch(() => undefined) : undefined;
  return send(withFace(type, content, face));
}

/** An outbox's enqueue for `face`'s agent (its own runs fanned out to rooms). */
export function facedEnqueue(outbox: Pick<Outbox, "enqueue">, face: AgentFace | undefined): Pick<Outbox, "enqueue"> {
  if (face === undefined) return outbox;
  return { enqueue: (entries) => outbox.enqueue(entries.map((e) => ({ ...e, content: withFace(e.type, e.content, face) }))) };
}

/** The global default agent's face (its own runs, POST /proactive). */
export function agentFace(agent: Pick<StartedAgent, "agents" | "defaultAgent">): AgentFace | undefined {
  const definition = agent.agents.get(agent.defaultAgent)?.definition;
  return definition ? faceOf(definition, agent.defaultAgent) : undefined;
}
