// Small helpers of the agent link: backoff, bounded run-id memory, safe callback calls, writes held for a tick.
import type { Socket } from "node:net";
import type { Logger } from "pino";
import type WebSocket from "ws";
export { fullJitterBackoff as fullJitterDelay } from "../util/timers";

/** Close codes that mean "you are not welcome like this" (policy, application-defined): never a tight retry loop. */
export function isPolicyClose(code: number): boolean {
  return code === 1008 || (code >= 4000 && code <= 4999);
}

/** An insertion-ordered set that forgets its oldest members beyond `max`. */
export class BoundedSet<T> {
  private readonly items = new Set<T>();
  constructor(private readonly max: number) {}

  has(item: T): boolean {
    return this.items.has(item);
  }

  add(item: T): void {
    if (this.items.has(item)) return;
    this.items.add(item);
    while (this.items.size > this.max) {
      const oldest = this.items.values().next();
      if (oldest.done) break;
      this.items.delete(oldest.value);
    }
  }
}

/** Call an observer/listener callback; a throw is logged, never propagated. */
export function callSafely(logger: Logger, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    logger.error({ err }, `${what} threw`);
  }
}

/** Await a callback that may be sync or async; a throw/rejection is logged, never propagated. */
export async function awaitSafely(logger: Logger, what: string, fn: () => void | Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    logger.error({ err }, `${what} threw`);
  }
}

/** An agent-supplied string (run id, error text) as logged: at most `max` characters, so junk cannot flood the log. */
export function clipForLog(value: string | undefined, max = 200): string | undefined {
  return value === undefined || value.length <= max ? value : `${value.slice(0, max)}…(${value.length} chars)`;
}

/** A timer that never keeps the process alive. */
export function unrefTimer(fn: () => void, ms: number): NodeJS.Timeout {
  const t = setTimeout(fn, Math.max(0, ms));
  t.unref();
  return t;
}

/** Sockets held corked until the end of this turn of the event loop (holdWritesForTick). */
const heldSockets = new WeakSet<object>();

/**
 * Frames sent in one turn of the event loop leave in one socket write (at 1,000 rooms many runs start together: one
 * write each was ~2 % of the main thread). The socket is corked at the first and uncorked once the loop's I/O
 * callbacks ran (setImmediate). ws keeps its socket in `_socket`; without one, frames are written as before.
 */
export function holdWritesForTick(ws: WebSocket): void {
  const socket = (ws as unknown as { _socket?: Partial<Pick<Socket, "cork" | "uncork">> })._socket;
  if (socket === undefined || heldSockets.has(socket) || typeof socket.cork !== "function" || typeof socket.uncork !== "function") return;
  socket.cork();
  heldSockets.add(socket);
  setImmediate(() => {
    heldSockets.delete(socket);
    socket.uncork?.();
  });
}
