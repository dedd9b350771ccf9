// A tiny reverse proxy for the standby scenarios (issue 30, runbook/scale-out.md "Two appservice listeners behind a
// reverse proxy"): each request goes to the next upstream in turn; an upstream that refuses the connection or cuts
// it before answering (a SIGKILLed process) is skipped and the request tried on the next one, as nginx's
// `proxy_next_upstream error` does (a transaction PUT is idempotent). When none answers: 502.
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export class RoundRobinProxy {
  private upstreams: string[] = [];
  private next = 0;
  private readonly server: http.Server;
  /** Requests per upstream that it answered, and those passed on to the next one. */
  readonly answeredBy = new Map<string, number>();
  failedOver = 0;

  constructor() {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The base URLs (http://127.0.0.1:port) requests go to from now on. */
  route(upstreams: string[]): void {
    this.upstreams = [...upstreams];
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const upstreams = this.upstreams;
    for (let tried = 0; tried < upstreams.length; tried++) {
      const upstream = upstreams[this.next++ % upstreams.length] as string;
      const answer = await forward(upstream, req, body);
      if (answer === undefined) {
        this.failedOver += 1;
        continue;
      }
      this.answeredBy.set(upstream, (this.answeredBy.get(upstream) ?? 0) + 1);
      res.writeHead(answer.status, { "content-type": answer.contentType });
      res.end(answer.body);
      return;
    }
    res.writeHead(502, { "content-type": "application/json" });
    res.end(JSON.stringify({ errcode: "M_UNKNOWN", error: "no upstream answered" }));
  }
}

/** The upstream's answer, or undefined when it could not be reached or cut the connection before answering. */
function forward(upstream: string, req: http.IncomingMessage, body: Buffer): Promise<{ status: number; contentType: string; body: Buffer } | undefined> {
  return new Promise((resolve) => {
    const headers = { ...req.headers, host: new URL(upstream).host };
    const out = http.request(`${upstream}${req.url ?? "/"}`, { method: req.method, headers, agent: false }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on("data", (chunk: Buffer) => chunks.push(chunk));
      answer.on("end", () => resolve({ status: answer.statusCode ?? 502, contentType: String(answer.headers["content-type"] ?? "application/json"),
        body: Buffer.concat(chunks) }));
      answer.on("error", () => resolve(undefined));
    });
    out.on("error", () => resolve(undefined));
    out.end(body);
  });
}
