// A small AG-UI agent over HTTP + SSE for tests, independent of the bot's code: a plain node:http server that
// writes events with @ag-ui/encoder, the way any framework's AG-UI endpoint does. Each POST is recorded (body,
// headers, whether the client closed the connection before the answer ended) and answered by `respond`, which
// a test may replace at any time. The default answer is stateless: it repeats the conversation it was sent
// ("You said: <last user text> (I remember N earlier messages)"), with a tool call first when the text says "tool".
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { EventEncoder } from "@ag-ui/encoder";

export interface AguiRequest {
  body: { threadId: string; runId: string; messages: Array<{ id: string; role: string; content: unknown; name?: string }>;
    [key: string]: unknown };
  headers: http.IncomingHttpHeaders;
  /** The client closed the connection before the answer ended (e.g. /stop). */
  closedByClient: boolean;
  /** The answer ended (normally or by the server). */
  ended: boolean;
}

export interface AguiStream {
  send(event: Record<string, unknown>): void;
  end(): void;
  /** Cut the connection without finishing the run. */
  destroy(): void;
  readonly request: AguiRequest;
}

export type AguiResponder = (req: AguiRequest, res: http.ServerResponse, stream: () => AguiStream) => void | Promise<void>;

export interface AguiHttpAgent {
  url: string;
  requests: AguiRequest[];
  respond: AguiResponder;
  close(): Promise<void>;
}

export const aguiHttpAgents: AguiHttpAgent[] = [];

function lastUserText(req: AguiRequest): string {
  const users = req.body.messages.filter((m) => m.role === "user");
  const last = users[users.length - 1];
  if (!last) return "";
  return typeof last.content === "string" ? last.content : JSON.stringify(last.content);
}

/** The default answer: what was said, how much history came with it, a tool call when asked. */
export const echoResponder: AguiResponder = (req, _res, open) => {
  const s = open();
  const { threadId, runId } = req.body;
  s.send({ type: "RUN_STARTED", threadId, runId });
  const text = lastUserText(req);
  if (/tool/i.test(text)) {
    s.send({ type: "TOOL_CALL_START", toolCallId: "tc1", toolCallName: "search_docs" });
    s.send({ type: "TOOL_CALL_ARGS", toolCallId: "tc1", delta: "{\"q\":\"x\"}" });
    s.send({ type: "TOOL_CALL_END", toolCallId: "tc1" });
    s.send({ type: "TOOL_CALL_RESULT", messageId: "tr1", toolCallId: "tc1", content: "found it" });
  }
  const earlier = req.body.messages.length - 1;
  s.send({ type: "TEXT_MESSAGE_CHUNK", messageId: `m-${runId}`, role: "assistant", delta: "You said: " });
  s.send({ type: "TEXT_MESSAGE_CHUNK", messageId: `m-${runId}`, delta: `${text} (I remember ${earlier} earlier messages)` });
  s.send({ type: "RUN_FINISHED", threadId, runId });
  s.end();
};

export async function startAguiHttpAgent(respond: AguiResponder = echoResponder): Promise<AguiHttpAgent> {
  const encoder = new EventEncoder();
  const agent: AguiHttpAgent = { url: "", requests: [], respond, close: async () => undefined };
  const sockets = new Set<import("node:net").Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: AguiRequest["body"];
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as AguiRequest["body"];
      } catch {
        res.writeHead(400).end();
        return;
      }
      const record: AguiRequest = { body, headers: req.headers, closedByClient: false, ended: false };
      agent.requests.push(record);
      res.on("close", () => {
        if (!record.ended) record.closedByClient = true;
      });
      const open = (): AguiStream => {
        res.writeHead(200, { "Content-Type": encoder.getContentType(), "Cache-Control": "no-cache" });
        return {
          request: record,
          send: (event) => void (res.writableEnded || res.destroyed ? undefined : res.write(encoder.encode(event as never))),
          end: () => {
            record.ended = true;
            res.end();
          },
          destroy: () => {
            record.ended = true;
            res.destroy();
          },
        };
      };
      void Promise.resolve(agent.respond(record, res, open)).catch(() => res.destroy());
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  agent.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/agent`;
  agent.close = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
  aguiHttpAgents.push(agent);
  return agent;
}
