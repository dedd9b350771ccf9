// The bot's own Matrix request function (src/matrix/direct-request.ts, under createMatrixHttp) against a real HTTP
// server on 127.0.0.1: what goes on the wire, every failure as the MatrixRequestError kind the sender acts on,
// the configured timeout, one keep-alive connection reused, a bounded pool, and a connection the server closed
// while it lay idle never hanging a request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import pino from "pino";
import { MatrixRequestError } from "../../../src/matrix/errors";
import { createMatrixHttp, type MatrixHttp } from "../../../src/matrix/http";
import { MatrixSender } from "../../../src/matrix/sender";
import { LogCapture } from "../../support/log-capture";
import { waitFor } from "../../support/wait";

const TOKEN = "syt_direct_secret_token_7";

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
  socket: Socket;
}

/** A server whose every answer is `answer(request)`; it records requests and the connections opened to it. */
class TestServer {
  readonly seen: Seen[] = [];
  connections = 0;
  url = "";
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  constructor(private readonly answer: (req: Seen, res: ServerResponse) => void) {
    this.server = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const seen = { method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization,
          contentType: req.headers["content-type"], body, socket: req.socket };
        this.seen.push(seen);
        this.answer(seen, res);
      });
    });
    this.server.on("connection", (socket: Socket) => {
      this.connections += 1;
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  async start(keepAliveTimeoutMs = 5000): Promise<this> {
    this.server.keepAliveTimeout = keepAliveTimeoutMs;
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Closes every open connection (idle ones included) without stopping the server. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};

const SEND = "/_matrix/client/v3/rooms/!r%3Ahs/send/m.room.message/t1";

async function failure(promise: Promise<unknown>): Promise<MatrixRequestError> {
  const e = await promise.then(() => undefined, (error: unknown) => error);
  if (!(e instanceof MatrixRequestError)) throw new Error(`expected a MatrixRequestError, got ${String(e)}`);
  return e;
}

/** Nothing of an error (its message, its description, its fields) carries the token. */
function expectNoToken(e: MatrixRequestError): void {
  expect(`${e.message} ${e.describe()} ${e.stack ?? ""} ${JSON.stringify(e)}`).not.toContain(TOKEN);
}

describe("the direct Matrix request function", () => {
  const servers: TestServer[] = [];
  const serve = async (answer: (req: Seen, res: ServerResponse) => void, keepAliveTimeoutMs?: number): Promise<TestServer> => {
    const server = await new TestServer(answer).start(keepAliveTimeoutMs);
    servers.push(server);
    return server;
  };
  const client = (server: TestServer, opts: { timeoutMs?: number; sendConcurrency?: number } = {}): MatrixHttp =>
    createMatrixHttp({ homeserverUrl: `${server.url}/`, accessToken: TOKEN, requestTimeoutMs: opts.timeoutMs ?? 5000,
      ...(opts.sendConcurrency !== undefined ? { sendConcurrency: opts.sendConcurrency } : {}) });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  it("sends the path, the user_id query, the bearer token and a JSON body, and returns the parsed answer", async () => {
    const server = await serve((_req, res) => json(res, 200, { event_id: "$e1" }));
    const http = client(server);
    const answer = await http.request("PUT", SEND, { query: { user_id: "@agent_a:hs", via: ["a", "b"], limit: 3, skipped: undefined },
      body: { msgtype: "m.text", body: "hi" } });
    expect(answer).toEqual({ event_id: "$e1" });
    expect(server.seen[0]).toMatchObject({ method: "PUT", url: `${SEND}?user_id=%40agent_a%3Ahs&via=a&via=b&limit=3`,
      authorization: `Bearer ${TOKEN}`, contentType: "application/json", body: '{"msgtype":"m.text","body":"hi"}' });
    await http.request("GET", "/_matrix/client/v3/account/whoami");
    expect(server.seen[1]).toMatchObject({ method: "GET", url: "/_matrix/client/v3/account/whoami", body: "", contentType: undefined });
  });

  it("turns every error answer into the kind the sender acts on, with retry_after_ms or the Retry-After header", async () => {
    const answers: Array<(res: ServerResponse) => void> = [
      (res) => json(res, 429, { errcode: "M_LIMIT_EXCEEDED", error: "Too Many Requests", retry_after_ms: 1500 }),
      (res) => json(res, 429, { errcode: "M_LIMIT_EXCEEDED", error: "Too Many Requests" }, { "retry-after": "3" }),
      (res) => json(res, 401, { errcode: "M_UNKNOWN_TOKEN", error: "Invalid access token passed." }),
      (res) => json(res, 403, { errcode: "M_FORBIDDEN", error: "You are not invited to this room." }),
      (res) => json(res, 404, { errcode: "M_NOT_FOUND", error: "Unknown room" }),
      (res) => json(res, 400, { errcode: "M_BAD_JSON", error: "Content not JSON." }),
      (res) => {
        res.writeHead(502, { "content-type": "text/html" });
        res.end("<html>Bad gateway</html>");
      },
      (res) => json(res, 500, { errcode: "M_UNKNOWN", error: "Internal server error" }),
      (res) => json(res, 200, { errcode: "M_UNKNOWN", error: "an error in a 200" }),
    ];
    const server = await serve((_req, res) => answers[server.seen.length - 1]?.(res));
    const http = client(server);
    const got: MatrixRequestError[] = [];
    for (let i = 0; i < answers.length; i++) got.push(await failure(http.request("PUT", SEND, { body: {} })));
    expect(got.map((e) => [e.kind, e.status, e.errcode, e.retryAfterMs, e.transient])).toEqual([
      ["rate_limited", 429, "M_LIMIT_EXCEEDED", 1500, true],
      ["rate_limited", 429, "M_LIMIT_EXCEEDED", 3000, true],
      ["unknown_token", 401, "M_UNKNOWN_TOKEN", undefined, false],
      ["forbidden", 403, "M_FORBIDDEN", undefined, false],
      ["not_found", 404, "M_NOT_FOUND", undefined, false],
      ["client", 400, "M_BAD_JSON", undefined, false],
      ["server", 502, undefined, undefined, true],
      ["server", 500, "M_UNKNOWN", undefined, true],
      ["client", 200, "M_UNKNOWN", undefined, false],
    ]);
    expect(got[3]?.message).toBe("PUT /rooms/!r%3Ahs/send/m.room.message/t1: You are not invited to this room.");
    expect(got[6]?.message).toBe("PUT /rooms/!r%3Ahs/send/m.room.message/t1: HTTP 502");
    for (const e of got) expectNoToken(e);
  });

  it("fails as a transient network error when nothing listens, and after the configured timeout when nothing answers", async () => {
    const server = await serve(() => undefined); // never answers
    const url = server.url;
    const silent = await failure(client(server, { timeoutMs: 150 }).request("PUT", SEND, { body: {} }));
    expect([silent.kind, silent.errcode, silent.transient]).toEqual(["network", "ETIMEDOUT", true]);
    expect(silent.message).toContain("no answer within 150 ms");
    // A per-call timeout (a /sync long-poll's) goes before the configured one.
    const perCall = await failure(client(server, { timeoutMs: 60_000 }).request("GET", "/_matrix/client/v3/sync", { timeoutMs: 100 }));
    expect(perCall.message).toContain("no answer within 100 ms");
    await server.stop();
    servers.splice(0);
    const refused = await failure(createMatrixHttp({ homeserverUrl: url, accessToken: TOKEN, requestTimeoutMs: 5000 }).request("GET", "/x"));
    expect([refused.kind, refused.errcode, refused.transient]).toEqual(["network", "ECONNREFUSED", true]);
    for (const e of [silent, perCall, refused]) expectNoToken(e);
  });

  it("reuses one keep-alive connection for calls in a row, and opens no more than the pool holds", async () => {
    const held: ServerResponse[] = [];
    let hold = false;
    const server = await serve((_req, res) => (hold ? held.push(res) : json(res, 200, { event_id: "$e" })));
    const http = client(server, { sendConcurrency: 2 }); // a pool of 2 + the sockets beside the sends
    for (let i = 0; i < 20; i++) await http.request("PUT", SEND, { body: { i } });
    expect(server.connections).toBe(1);
    expect(new Set(server.seen.map((s) => s.socket)).size).toBe(1);
    hold = true;
    const many = Array.from({ length: 40 }, (_, i) => http.request("PUT", SEND, { body: { i } }));
    await waitFor(() => held.length >= 18, { what: "the pool's requests to arrive" });
    await new Promise((r) => setImmediate(r));
    expect(held.length).toBe(18); // 2 + 16 at once; the others wait for a socket
    hold = false;
    for (const res of held.splice(0)) json(res, 200, { event_id: "$e" });
    await Promise.all(many);
    expect(server.seen.length).toBe(60);
    expect(server.connections).toBeLessThanOrEqual(18);
  });

  it("opens a new connection when the server closed the idle one", async () => {
    const server = await serve((_req, res) => json(res, 200, {}));
    const http = client(server);
    await http.request("PUT", SEND, { body: {} });
    server.dropConnections(); // whether the client has seen the FIN yet or not (the next test)
    await expect(http.request("PUT", SEND, { body: {} })).resolves.toEqual({});
    expect(server.connections).toBe(2);
  });

  it("retries an idempotent call on a new connection when a reused one turns out dead; a POST fails as transient", async () => {
    // The race a server's idle timeout makes: the request is written to a kept-alive socket the server closes
    // as it arrives. Here the server cuts every reused connection the moment a request comes in on it.
    const served = new WeakSet<Socket>();
    const server = await serve((req, res) => {
      if (served.has(req.socket)) {
        req.socket.destroy();
        return;
      }
      served.add(req.socket);
      json(res, 200, { event_id: "$e" });
    });
    const http = client(server);
    await http.request("PUT", SEND, { body: {} });
    await expect(http.request("PUT", SEND, { body: { again: true } })).resolves.toEqual({ event_id: "$e" });
    expect(server.seen.map((s) => s.body)).toEqual(["{}", '{"again":true}', '{"again":true}']);
    const post = await failure(http.request("POST", "/_matrix/client/v3/rooms/!r%3Ahs/receipt/m.read/%24e", { body: {} }));
    expect([post.kind, post.transient]).toEqual(["network", true]);
    expectNoToken(post);
  });

  it("the sender's retries over it log no token", async () => {
    const server = await serve((_req, res) => (server.seen.length === 1 ? json(res, 502, { error: "upstream down" }) : json(res, 200, { event_id: "$ok" })));
    const logs = new LogCapture();
    const sender = new MatrixSender(client(server), { userId: "@bot:hs", retryBaseMs: 1, retryMaxMs: 2, maxAttempts: 3, onTokenRejected: () => undefined },
      pino({ level: "debug" }, logs));
    await expect(sender.sendEvent("!r:hs", "m.room.message", { body: "hi" }, "t1")).resolves.toMatchObject({ ok: true, eventId: "$ok", attempts: 2 });
    expect(logs.raw.join("")).toContain("send failed, retrying");
    expect(logs.raw.join("")).not.toContain(TOKEN);
  });
});
