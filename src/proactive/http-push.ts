// POST /proactive: an operator's system pushes a proactive message through the same pipeline as agent-initiated
// runs. Bearer PROACTIVE_TOKEN (constant-time compare); zod-validated body; 401 bad token, 400 with the reason, 404
// for a target the bot cannot deliver to.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { bearerFrom, bearerRefusal, errorBody, type ErrorBody } from "../http/request";
import type { ProactiveFanout } from "./fanout";

export const proactiveBodySchema = z.strictObject({
  /** "*" (every opted-in room, the default), or a room id or thread key of a room the bot is in (opted in or not). */
  target: z.string().min(1).default("*"),
  /** One Matrix message per entry. */
  messages: z.array(z.string().min(1).max(200_000)).min(1).max(20),
  /** Idempotency key: the same id posted twice is delivered once. Default: a fresh id. */
  id: z.string().min(1).max(200).regex(/^[A-Za-z0-9._~-]+$/, "use only A-Z a-z 0-9 . _ ~ -").optional(),
});

export interface PushReply {
  status: number;
  body: ErrorBody | { id: string; rooms: number; messages: number };
  headers?: Record<string, string>;
}

/**
 * The body is read only after the token is checked: an unauthenticated caller learns nothing about it. Error
 * bodies have the server's one shape ({errcode, error}); a target the bot cannot deliver to is 404, as the
 * agent-initiated path nacks it (DESIGN.md's rule).
 */
export async function handleProactivePush(request: { authorization: string | undefined; readBody: () => Promise<unknown> },
  deps: { token: string | undefined; fanout: Pick<ProactiveFanout, "deliver"> }): Promise<PushReply> {
  if (deps.token === undefined) {
    return { status: 404, body: errorBody("M_UNRECOGNIZED", "POST /proactive is disabled: set PROACTIVE_TOKEN to enable it") };
  }
  const refusal = bearerRefusal(bearerFrom({ authorization: request.authorization }), deps.token);
  if (refusal) return { status: refusal.status, body: refusal.body, headers: refusal.headers };
  const parsed = proactiveBodySchema.safeParse(await request.readBody());
  if (!parsed.success) {
    const reason = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    return { status: 400, body: errorBody("M_BAD_JSON", `invalid body: ${reason}`) };
  }
  const { target, messages, id } = parsed.data;
  const runId = `push.${id ?? randomUUID()}`;
  const result = await deps.fanout.deliver(runId, target, messages);
  if ("refused" in result) return { status: 404, body: errorBody("M_NOT_FOUND", result.detail) };
  return { status: 202, body: { id: runId, rooms: result.rooms, messages: result.messages } };
}
