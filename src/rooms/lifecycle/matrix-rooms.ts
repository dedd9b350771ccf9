// The room requests the lifecycle makes (join, leave, state, createRoom, invite), over MatrixHttp. Transient
// failures (429 after its retry_after_ms, 5xx, network) are retried a few times; everything else is thrown
// as the MatrixRequestError it is, for the caller to decide (403 on a join = "not joinable").
import type { Logger } from "pino";
import { MatrixRequestError, normalizeMatrixError } from "../../matrix/errors";
import { enc, type MatrixHttp } from "../../matrix/http";
import { fullJitterBackoff, sleep } from "../../util/timers";
import { LruMap } from "../../util/lru";
import type { LifecycleOptions } from "./options";

export interface CreateInfo {
  /** `m.room.create` content.type, e.g. "m.space". */
  type?: string;
  /** Who created the room. */
  creator: string;
  /** The room this one replaced (room upgrade). */
  predecessor?: string;
}

export class LifecycleStoppedError extends Error {
  override readonly name = "LifecycleStoppedError";
  constructor() {
    super("the room lifecycle is stopping");
  }
}

const CLIENT = "/_matrix/client/v3";

export class MatrixRooms {
  /** Create facts of rooms seen lately (read again from the homeserver once dropped). */
  private readonly createInfos = new LruMap<string, CreateInfo>(1_000);

  constructor(private readonly http: MatrixHttp, private readonly botUserId: string, private readonly opts: Pick<LifecycleOptions, "requestAttempts" | "retryBaseMs" | "retryMaxMs">,
    private readonly log: Logger, private readonly signal: AbortSignal) {}

  /** Runs one request, retrying transient failures; throws MatrixRequestError (or LifecycleStoppedError). */
  async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      if (this.signal.aborted) throw new LifecycleStoppedError();
      try {
        return await request();
      } catch (e) {
        const error = e instanceof MatrixRequestError ? e : normalizeMatrixError(e, what);
        if (!error.transient || attempt >= this.opts.requestAttempts) throw error;
        const waitMs = error.retryAfterMs ?? Math.max(1, fullJitterBackoff(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs));
        this.log.debug({ what, attempt, waitMs, error: error.describe() }, "room request failed transiently; retrying");
        if (!(await sleep(waitMs, this.signal))) throw new LifecycleStoppedError();
      }
    }
  }

  async join(roomId: string, via: readonly string[]): Promise<string> {
    const res = await this.call("join", () => this.http.request<{ room_id?: unknown }>("POST", `${CLIENT}/join/${enc(roomId)}`, {
      query: { via: [...via], server_name: [...via] }, body: {},
    }));
    return typeof res?.room_id === "string" ? res.room_id : roomId;
  }

  async leave(roomId: string, reason?: string): Promise<void> {
    await this.call("leave", () => this.http.request("POST", `${CLIENT}/rooms/${enc(roomId)}/leave`, { body: reason ? { reason } : {} }));
  }

  /** A state event's content; undefined when it does not exist (404). 403 (cannot read) is thrown. */
  async state(roomId: string, type: string, stateKey = ""): Promise<Record<string, unknown> | undefined> {
    try {
      const content = await this.call("get state", () => this.http.request<unknown>("GET",
        statePath(roomId, type, stateKey)));
      return typeof content === "object" && content !== null && !Array.isArray(content) ? content as Record<string, unknown> : {};
    } catch (e) {
      if (e instanceof MatrixRequestError && e.kind === "not_found") return undefined;
      throw e;
    }
  }

  /** Every current state event of a joined room (raw, to be validated by the caller). */
  async allState(roomId: string): Promise<unknown[]> {
    const res = await this.call("get room state", () => this.http.request<unknown>("GET", `${CLIENT}/rooms/${enc(roomId)}/state`));
    return Array.isArray(res) ? res : [];
  }

  /** One attempt, never retried here: a retry could create a second room (the caller looks for its marker first). */
  async createRoomOnce(body: Record<string, unknown>): Promise<string> {
    if (this.signal.aborted) throw new LifecycleStoppedError();
    let res: { room_id?: unknown };
    try {
      res = await this.http.request<{ room_id?: unknown }>("POST", `${CLIENT}/createRoom`, { body });
    } catch (e) {
      throw e instanceof MatrixRequestError ? e : normalizeMatrixError(e, "createRoom");
    }
    if (typeof res?.room_id !== "string") throw new Error("the homeserver's createRoom answer has no room_id");
    const creation = body["creation_content"] as { type?: unknown } | undefined;
    this.createInfos.set(res.room_id, { creator: this.botUserId, ...(typeof creation?.type === "string" ? { type: creation.type } : {}) });
    return res.room_id;
  }

  /** Waits before another attempt after `error` (its retry_after_ms, else backoff); false when stopping. */
  async backoff(error: MatrixRequestError, attempt: number): Promise<boolean> {
    const waitMs = error.retryAfterMs ?? Math.max(1, fullJitterBackoff(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs));
    return sleep(waitMs, this.signal);
  }

  get attempts(): number {
    return this.opts.requestAttempts;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.call("invite", () => this.http.request("POST", `${CLIENT}/rooms/${enc(roomId)}/invite`, { body: { user_id: userId } }));
  }

  async putState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<void> {
    await this.call("put state", () => this.http.request("PUT", statePath(roomId, type, stateKey), { body: content }));
  }

  async joinedRooms(): Promise<string[]> {
    const res = await this.call("joined_rooms", () => this.http.request<{ joined_rooms?: unknown }>("GET", `${CLIENT}/joined_rooms`));
    return Array.isArray(res?.joined_rooms) ? res.joined_rooms.filter((r): r is string => typeof r === "string") : [];
  }

  async joinedMembers(roomId: string): Promise<string[]> {
    const res = await this.call("joined_members", () => this.http.request<{ joined?: unknown }>("GET", `${CLIENT}/rooms/${enc(roomId)}/joined_members`));
    return typeof res?.joined === "object" && res.joined !== null ? Object.keys(res.joined) : [];
  }

  /** The room's create event facts (cached; they never change). Undefined when the bot cannot read them. */
  async createInfo(roomId: string): Promise<CreateInfo | undefined> {
    const known = this.createInfos.get(roomId);
    if (known) return known;
    let event: unknown;
    try {
      event = await this.call("get create event", () => this.http.request<unknown>("GET",
        statePath(roomId, "m.room.create", ""), { query: { format: "event" } }));
    } catch (e) {
      if (e instanceof LifecycleStoppedError) throw e;
      this.log.debug({ roomId, err: String(e) }, "could not read the room's create event");
      return undefined;
    }
    const info = createInfoOf(event);
    if (info) this.createInfos.set(roomId, info);
    return info;
  }

  /** Remembers create facts seen in an event (saves a request later). */
  noteCreateEvent(roomId: string, event: { sender: string; content: Record<string, unknown> }): void {
    const info = createInfoOf(event);
    if (info) this.createInfos.set(roomId, info);
  }
}

function statePath(roomId: string, type: string, stateKey: string): string {
  const base = `${CLIENT}/rooms/${enc(roomId)}/state/${enc(type)}`;
  return stateKey === "" ? base : `${base}/${enc(stateKey)}`;
}

/** Reads an m.room.create event (with `format=event`) or falls back to its content alone. */
function createInfoOf(raw: unknown): CreateInfo | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const event = raw as { sender?: unknown; content?: unknown };
  const content = (typeof event.content === "object" && event.content !== null ? event.content : raw) as Record<string, unknown>;
  const creator = typeof event.sender === "string" ? event.sender : typeof content["creator"] === "string" ? content["creator"] : "";
  const predecessor = content["predecessor"];
  const predecessorId = typeof predecessor === "object" && predecessor !== null && typeof (predecessor as { room_id?: unknown }).room_id === "string"
    ? (predecessor as { room_id: string }).room_id : undefined;
  return {
    creator,
    ...(typeof content["type"] === "string" ? { type: content["type"] } : {}),
    ...(predecessorId ? { predecessor: predecessorId } : {}),
  };
}
