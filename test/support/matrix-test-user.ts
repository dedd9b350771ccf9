// A tiny real-HTTP Matrix client that tests use to act as a person against the homeserver double
// (or any homeserver): every call is a fetch to the Client-Server API, like a real client's.
import { randomBytes } from "node:crypto";

type Json = Record<string, unknown>;

export interface RawResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON when the body is JSON, else the text. */
  body: unknown;
}

/** A non-2xx answer: the HTTP status and, for spec errors, errcode / error / retry_after_ms. */
export class MatrixTestUserError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly request: string,
  ) {
    const b = typeof body === "object" && body !== null ? (body as Json) : {};
    super(`${request} → ${status} ${String(b["errcode"] ?? "")} ${String(b["error"] ?? "")}`.trim());
    this.name = "MatrixTestUserError";
  }

  get errcode(): string | undefined {
    const b = this.body as Json | undefined;
    return typeof b?.["errcode"] === "string" ? b["errcode"] : undefined;
  }
}

export interface SyncOptions {
  since?: string;
  timeout?: number;
  /** A filter id, or an inline filter object. */
  filter?: string | Json;
  fullState?: boolean;
}

const enc = encodeURIComponent;

export class MatrixTestUser {
  readonly userId: string;
  readonly accessToken: string;
  private txnCounter = 0;
  private readonly txnPrefix = randomBytes(4).toString("hex");

  constructor(
    readonly hsUrl: string,
    credentials: { userId: string; accessToken: string },
  ) {
    this.userId = credentials.userId;
    this.accessToken = credentials.accessToken;
  }

  /** Any request; never throws on HTTP status. Query values may repeat (arrays). */
  async request(method: string, path: string, opts: { body?: unknown; query?: Record<string, string | string[]>; auth?: boolean } = {}): Promise<RawResponse> {
    const url = new URL(path.startsWith("/") ? path : `/_matrix/client/v3/${path}`, this.hsUrl);
    for (const [key, value] of Object.entries(opts.query ?? {})) {
      for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(key, v);
    }
    const headers: Record<string, string> = {};
    if (opts.auth !== false) headers["authorization"] = `Bearer ${this.accessToken}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(url, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      // keep text
    }
    return { status: response.status, headers: response.headers, body };
  }

  /** Like request(), but returns the JSON body of a 2xx and throws MatrixTestUserError otherwise. */
  async call<T = Json>(method: string, path: string, opts: { body?: unknown; query?: Record<string, string | string[]> } = {}): Promise<T> {
    const response = await this.request(method, path, opts);
    if (response.status < 200 || response.status >= 300) throw new MatrixTestUserError(response.status, response.body, `${method} ${path}`);
    return response.body as T;
  }

  newTxnId(): string {
    this.txnCounter += 1;
    return `mtu-${this.txnPrefix}-${this.txnCounter}`;
  }

  async send(roomId: string, type: string, content: Json, txnId = this.newTxnId()): Promise<string> {
    const body = await this.call<{ event_id: string }>("PUT", `rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`, { body: content });
    return body.event_id;
  }

  sendText(roomId: string, body: string, extraContent: Json = {}): Promise<string> {
    return this.send(roomId, "m.room.message", { msgtype: "m.text", body, ...extraContent });
  }

  /** A message in the thread rooted at `rootEventId` (m.thread relation with the reply fallback). */
  sendThreadReply(roomId: string, rootEventId: string, body: string, extraContent: Json = {}): Promise<string> {
    return this.sendText(roomId, body, {
      "m.relates_to": { rel_type: "m.thread", event_id: rootEventId, is_falling_back: true, "m.in_reply_to": { event_id: rootEventId } },
      ...extraContent,
    });
  }

  async sendState(roomId: string, type: string, stateKey: string, content: Json): Promise<string> {
    const body = await this.call<{ event_id: string }>("PUT", `rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`, { body: content });
    return body.event_id;
  }

  async redact(roomId: string, eventId: string, reason?: string): Promise<string> {
    const body = await this.call<{ event_id: string }>("PUT", `rooms/${enc(roomId)}/redact/${enc(eventId)}/${enc(this.newTxnId())}`, {
      body: reason !== undefined ? { reason } : {},
    });
    return body.event_id;
  }

  /** POST /createRoom with a spec body; returns the spec response `{ room_id }`. */
  createRoom(body: Json = {}): Promise<{ room_id: string }> {
    return this.call("POST", "createRoom", { body });
  }

  /** POST /join/{roomIdOrAlias}?via=…; returns `{ room_id }`. */
  join(roomIdOrAlias: string, via: string[] = []): Promise<{ room_id: string }> {
    return this.call("POST", `join/${enc(roomIdOrAlias)}`, { body: {}, query: via.length > 0 ? { via } : {} });
  }

  async leave(roomId: string, reason?: string): Promise<void> {
    await this.call("POST", `rooms/${enc(roomId)}/leave`, { body: reason !== undefined ? { reason } : {} });
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.call("POST", `rooms/${enc(roomId)}/invite`, { body: { user_id: userId } });
  }

  async kick(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.call("POST", `rooms/${enc(roomId)}/kick`, { body: { user_id: userId, ...(reason !== undefined ? { reason } : {}) } });
  }

  sync(opts: SyncOptions | string = {}): Promise<Json & { next_batch: string }> {
    const o: SyncOptions = typeof opts === "string" ? { since: opts } : opts;
    const query: Record<string, string> = {};
    if (o.since !== undefined) query["since"] = o.since;
    if (o.timeout !== undefined) query["timeout"] = String(o.timeout);
    if (o.filter !== undefined) query["filter"] = typeof o.filter === "string" ? o.filter : JSON.stringify(o.filter);
    if (o.fullState !== undefined) query["full_state"] = String(o.fullState);
    return this.call("GET", "sync", { query });
  }

  messages(roomId: string, opts: { dir?: "b" | "f"; from?: string; to?: string; limit?: number; filter?: Json } = {}): Promise<{ chunk: Json[]; start: string; end?: string }> {
    const query: Record<string, string> = { dir: opts.dir ?? "b" };
    if (opts.from !== undefined) query["from"] = opts.from;
    if (opts.to !== undefined) query["to"] = opts.to;
    if (opts.limit !== undefined) query["limit"] = String(opts.limit);
    if (opts.filter !== undefined) query["filter"] = JSON.stringify(opts.filter);
    return this.call("GET", `rooms/${enc(roomId)}/messages`, { query });
  }

  async typing(roomId: string, typing: boolean, timeout = 30_000): Promise<void> {
    await this.call("PUT", `rooms/${enc(roomId)}/typing/${enc(this.userId)}`, { body: typing ? { typing, timeout } : { typing } });
  }

  async readReceipt(roomId: string, eventId: string, type = "m.read"): Promise<void> {
    await this.call("POST", `rooms/${enc(roomId)}/receipt/${enc(type)}/${enc(eventId)}`, { body: {} });
  }

  whoami(): Promise<{ user_id: string; device_id?: string; is_guest?: boolean }> {
    return this.call("GET", "account/whoami");
  }

  async joinedRooms(): Promise<string[]> {
    return (await this.call<{ joined_rooms: string[] }>("GET", "joined_rooms")).joined_rooms;
  }

  getState(roomId: string, type: string, stateKey = ""): Promise<Json> {
    return this.call("GET", `rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`);
  }

  async setDisplayName(displayName: string): Promise<void> {
    await this.call("PUT", `profile/${enc(this.userId)}/displayname`, { body: { displayname: displayName } });
  }

  async setAccountData(type: string, content: Json): Promise<void> {
    await this.call("PUT", `user/${enc(this.userId)}/account_data/${enc(type)}`, { body: content });
  }

  /** Logs in with a password; returns a MatrixTestUser for the new token (a new device). */
  static async login(hsUrl: string, user: string, password: string): Promise<MatrixTestUser & { deviceId: string }> {
    const response = await fetch(new URL("/_matrix/client/v3/login", hsUrl), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "m.login.password", identifier: { type: "m.id.user", user }, password }),
    });
    const body = (await response.json()) as Json;
    if (!response.ok) throw new MatrixTestUserError(response.status, body, "POST login");
    const client = new MatrixTestUser(hsUrl, { userId: String(body["user_id"]), accessToken: String(body["access_token"]) });
    return Object.assign(client, { deviceId: String(body["device_id"]) });
  }
}
