// A fake OpenAI-compatible server on 127.0.0.1 (node:http): POST /v1/chat/completions with `stream: true`
// answers with SSE chunks. Each request takes the next queued behaviour (or the default): a streamed
// answer (with reasoning and OpenAI-style tool calls if scripted), a status error (401, 403, 429, 500, ...), a context-length 400, a hang (before or after some
// chunks), or a dropped connection. Every request is recorded, with whether the client went away first.
// POST /v1/audio/transcriptions (multipart, as OpenAI's and whisper servers' speech to text) answers
// `{"text": <transcript>}`; each upload is recorded in `transcriptions`.
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export type FakeBehaviour =
  | { kind: "stream"; chunks: string[]; /** ms between chunks; default 0 */ gapMs?: number;
      /** Streamed first, as `reasoning_content` deltas (as DeepSeek, vLLM and llama.cpp send it). */
      reasoning?: string[];
      /** Streamed after the text as OpenAI `tool_calls` deltas (the arguments in two pieces); finish_reason tool_calls. */
      toolCalls?: Array<{ id: string; name: string; arguments: string }>
      /** The chunks after the first wait for this (a model answer held until the test releases it). */
      hold?: Promise<void>;
      /** Sent as OpenAI does when the request asked for it (`stream_options.include_usage`): a last chunk with no
       *  choices and this `usage`. */
      usage?: Record<string, unknown> }
  | { kind: "status"; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: "context_length" }
  /** Never answers (or stops after `chunks`), holding the connection open until the client leaves. */
  | { kind: "hang"; chunks?: string[] }
  /** Sends `chunks`, then destroys the socket mid-stream. */
  | { kind: "drop"; chunks?: string[] };

export interface FakeRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: { model?: string; stream?: boolean; messages?: Array<{ role: string; content: string | null; [k: string]: unknown }>;
    tools?: Array<{ type: string; function: { name: string; description?: string; parameters?: unknown } }>; tool_choice?: string; [k: string]: unknown };
  /** The client closed the connection before the answer was complete (e.g. an aborted request). */
  closedEarly: boolean;
  /** Resolves when the exchange is over (answered, or the client went away). */
  done: Promise<void>;
}

export interface FakeTranscription {
  model: string;
  filename: string;
  bytes: Buffer;
}

export interface FakeOpenAI {
  /** Files sent to /v1/audio/transcriptions, in order. */
  transcriptions: FakeTranscription[];
  /** What the transcription endpoint answers (default "transcribed speech"). */
  setTranscript(text: string): void;
  /** The API base, e.g. http://127.0.0.1:1234/v1 (what LLM_BASE_URL takes). */
  baseUrl: string;
  requests: FakeRequest[];
  /** Queue behaviours for the next requests, in order. */
  next(...behaviours: FakeBehaviour[]): void;
  /** What requests get once the queue is empty; default streams `answer <n>` in two chunks. */
  setDefault(behaviour: ((req: FakeRequest, n: number) => FakeBehaviour) | FakeBehaviour): void;
  close(): Promise<void>;
}

const CONTEXT_ERROR = {
  error: {
    message: "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
    type: "invalid_request_error",
    param: "messages",
    code: "context_length_exceeded",
  },
};

function chunkJson(id: string, model: string, content: string | undefined | Record<string, unknown>, finish: string | null): string {
  const delta = content === undefined ? {} : typeof content === "string" ? { role: "assistant", content } : content;
  return JSON.stringify({
    id,
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
}

/** The deltas of a stream behaviour's reasoning and tool calls (text chunks go between them). */
function workDeltas(b: Extract<FakeBehaviour, { kind: "stream" }>): { before: Array<Record<string, unknown>>; after: Array<Record<string, unknown>> } {
  const before = (b.reasoning ?? []).map((r) => ({ role: "assistant", reasoning_content: r }));
  const after = (b.toolCalls ?? []).flatMap((call, index) => {
    const half = Math.ceil(call.arguments.length / 2);
    return [
      { tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] },
      { tool_calls: [{ index, function: { arguments: call.arguments.slice(0, half) } }] },
      { tool_calls: [{ index, function: { arguments: call.arguments.slice(half) } }] },
    ];
  });
  return { before, after };
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const queue: FakeBehaviour[] = [];
  const requests: FakeRequest[] = [];
  const transcriptions: FakeTranscription[] = [];
  let transcript = "transcribed speech";
  let fallback: (req: FakeRequest, n: number) => FakeBehaviour = (_req, n) => ({ kind: "stream", chunks: [`answer `, `${n}`] });
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const server = http.createServer((req, res) => {
    const body: Buffer[] = [];
    req.on("data", (d: Buffer) => body.push(d));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/v1/audio/transcriptions") {
        void transcribe(Buffer.concat(body), req.headers["content-type"] ?? "", res);
        return;
      }
      const raw = Buffer.concat(body).toString("utf8");
      let finish!: () => void;
      const record: FakeRequest = {
        path: req.url ?? "",
        headers: req.headers,
        body: {},
        closedEarly: false,
        done: new Promise<void>((resolve) => (finish = resolve)),
      };
      try {
        record.body = JSON.parse(raw) as FakeRequest["body"];
      } catch {
        record.body = {};
      }
      requests.push(record);
      let complete = false;
      res.on("close", () => {
        if (!complete) record.closedEarly = true;
        finish();
      });
      const end = (): void => {
        complete = true;
        res.end();
      };
      if (req.method !== "POST" || record.path !== "/v1/chat/completions") {
        complete = true;
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not found" } }));
        return;
      }
      const behaviour = queue.shift() ?? fallback(record, requests.length);
      void serve(behaviour, res, record, end).catch(() => res.destroy());
    });
  });

  async function transcribe(body: Buffer, contentType: string, res: http.ServerResponse): Promise<void> {
    const form = await new Response(body, { headers: { "content-type": contentType } }).formData();
    const file = form.get("file");
    if (typeof file === "string" || file === null) {
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "no file" } }));
      return;
    }
    transcriptions.push({ model: String(form.get("model")), filename: file.name, bytes: Buffer.from(await file.arrayBuffer()) });
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ text: transcript }));
  }

  async function serve(b: FakeBehaviour, res: http.ServerResponse, record: FakeRequest, end: () => void): Promise<void> {
    if (b.kind === "status" || b.kind === "context_length") {
      const status = b.kind === "status" ? b.status : 400;
      const body = b.kind === "status" ? b.body ?? { error: { message: `fake error ${status} sk-secret-detail`, type: "fake" } } : CONTEXT_ERROR;
      res.writeHead(status, { "content-type": "application/json", ...(b.kind === "status" ? b.headers : {}) });
      res.write(JSON.stringify(body));
      end();
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const id = `chatcmpl-${requests.length}`;
    const model = record.body.model ?? "fake";
    const work = b.kind === "stream" ? workDeltas(b) : { before: [], after: [] };
    for (const d of work.before) res.write(`data: ${chunkJson(id, model, d, null)}\n\n`);
    const chunks = b.chunks ?? [];
    for (const [i, c] of chunks.entries()) {
      if (res.destroyed) return;
      res.write(`data: ${chunkJson(id, model, c, null)}\n\n`);
      if (b.kind === "stream" && i === 0 && b.hold) await b.hold;
      if (b.kind === "stream" && (b.gapMs ?? 0) > 0 && i < chunks.length - 1) await sleep(b.gapMs ?? 0);
    }
    if (b.kind === "hang") return; // the client has to give up
    if (b.kind === "drop") {
      res.socket?.destroy();
      return;
    }
    for (const d of work.after) res.write(`data: ${chunkJson(id, model, d, null)}\n\n`);
    res.write(`data: ${chunkJson(id, model, undefined, work.after.length > 0 ? "tool_calls" : "stop")}\n\n`);
    const options = record.body["stream_options"] as { include_usage?: unknown } | undefined;
    if (b.kind === "stream" && b.usage && options?.include_usage === true) {
      res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model, choices: [], usage: b.usage })}\n\n`);
    }
    res.write("data: [DONE]\n\n");
    end();
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    transcriptions,
    setTranscript: (text) => {
      transcript = text;
    },
    next: (...b) => void queue.push(...b),
    setDefault: (b) => {
      fallback = typeof b === "function" ? b : () => b;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
