// A stand-in appservice for the double's appservice tests: an HTTP server that records the transactions it is
// pushed and answers with scripted statuses.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { AppserviceRegistration, ClientEvent, JsonObject } from "../../support/homeserver";

interface Received {
  txnId: string;
  /** The whole transaction body: events and, for encrypted appservices, to-device messages, key counts, device lists. */
  body: JsonObject;
  events: ClientEvent[];
  authorization: string | undefined;
  queryToken: string | null;
}

/** A stand-in appservice: records transactions, answers with scripted statuses, tracks overlap. */
export class FakeAppservice {
  readonly received: Received[] = [];
  readonly statuses: number[] = [];
  holdMs = 0;
  concurrent = 0;
  maxConcurrent = 0;
  private server: Server | undefined;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as JsonObject & { events: ClientEvent[] };
        this.received.push({
          txnId: decodeURIComponent(url.pathname.split("/").pop() ?? ""),
          body,
          events: body.events,
          authorization: req.headers["authorization"],
          queryToken: url.searchParams.get("access_token"),
        });
        this.concurrent += 1;
        this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
        const status = this.statuses.shift() ?? 200;
        setTimeout(() => {
          this.concurrent -= 1;
          res.writeHead(status, { "content-type": "application/json" });
          res.end(status === 200 ? "{}" : JSON.stringify({ errcode: "M_UNKNOWN", error: "try later" }));
        }, this.holdMs).unref();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }

  /** Every value of the transaction field `field` received so far. */
  values(field: string): unknown[] {
    return this.received.map((r) => r.body[field]).filter((v) => v !== undefined);
  }

  bodies(): unknown[] {
    return this.received.flatMap((r) => r.events.filter((e) => e.type === "m.room.message").map((e) => e.content["body"]));
  }
}

export const registration = (url: string): AppserviceRegistration => ({
  id: "agent-bridge",
  url,
  as_token: "as-secret",
  hs_token: "hs-secret",
  sender_localpart: "agentbot",
  namespaces: { users: [{ exclusive: true, regex: "@agent_.*:localhost" }] },
});
