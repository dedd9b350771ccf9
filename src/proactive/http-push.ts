// POST /proactive: an operator's system pushes a proactive message through the same pipeline as agent-initiated
// runs. Bearer PROACTIVE_TOKEN (constant-time compare); zod-validated body; 401 bad token, 400 with the reason.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { tokensMatch } from "../http/request";
import type { ProactiveFanout } from "./fanout";

export const proactiveBodySchema = z.strictObject({
  /** "*" (every opted-in room, the default), a thread key, or a room id the bot is in. */
  target: z.string().min(1).default("*"),
  /** One Matrix message per entry. */
  messages: z.array(z.string().min(1).max(200_000)).min(1).max(20),
  /** Idempotency key: the same id posted twice is delivered once. Default: a fresh id. */
  id: z.string().min(1).max(200).regex(/^[A-Za-z0-9._~-]+$/, "use only A-Z a-z 0-9 . _ ~ -").optional(),
});

export interface PushReply {
  status: number;
  body: Record<string, unknown>;
}

/** The body is read only after the token is checked: an unauthenticated caller learns nothing about it. */
export async function handleProactivePush(request: { authorization: string | undefined; readBody: () => Promise<unknown> },
  deps: { token: string | undefined; fanout: Pick<ProactiveFanout, "deliver"> }): Promise<PushReply> {
  if (deps.token === undefined) return { status: 404, body: { error: "POST /proactive is disabled: set PROACTIVE_TOKEN to enable it" } };
  const presented = /^Bearer\s+(.+)$/i.exec(request.authorization ?? "")?.[1]?.trim();
  if (!tokensMatch(presented, deps.token)) {
    return { status: 401, body: { error: "missing or wrong bearer token" } };
  }
  const parsed = proactiveBodySchema.safeParse(await request.readBody());
  if (!parsed.success) {
    const reason = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    return { status: 400, body: { error: `invalid body: ${reason}` } };
  }
  const { target, messages, id } = parsed.data;
  const runId = `push.${id ?? randomUUID()}`;
  const result = await deps.fanout.deliver(runId, target, messages);
  if (result === "unknown_thread") return { status: 400, body: { error: "invalid body: target: not *, a thread key or a room id" } };
  return { status: 202, body: { id: runId, rooms: result.rooms, messages: result.messages } };
}
