// The doctor's agent check: opens one WebSocket to AGENT_URL as the bot would (Bearer token, hello with the
// protocol version), waits for `ready`, and closes. No resume is sent, so the agent treats it as a new session
// and the bot's own session is left alone. Every failure is described with what to do about it.
import WebSocket from "ws";
import { PROTOCOL, parseAgentFrame } from "../agent/protocol";
import { isPolicyClose } from "../agent/link-util";

export type HandshakeResult =
  | { ok: true; sessionId: string; heartbeatMs: number | undefined }
  | { ok: false; what: string; fix: string };

export interface HandshakeOptions {
  url: string;
  token?: string;
  timeoutMs: number;
  clientName: string;
  maxFrameBytes: number;
}

export function agentHandshake(opts: HandshakeOptions): Promise<HandshakeResult> {
  return new Promise<HandshakeResult>((resolve) => {
    let settled = false;
    const headers: Record<string, string> = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
    let ws: WebSocket;
    try {
      ws = new WebSocket(opts.url, { headers, handshakeTimeout: opts.timeoutMs, maxPayload: opts.maxFrameBytes, perMessageDeflate: false });
    } catch (error) {
      resolve({ ok: false, what: `AGENT_URL cannot be used (${error instanceof Error ? error.message : String(error)})`,
        fix: "set AGENT_URL to ws://host:port or wss://host:port" });
      return;
    }
    const finish = (result: HandshakeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, "doctor done");
      else ws.terminate();
      resolve(result);
    };
    const timer = setTimeout(() => finish({
      ok: false,
      what: `the agent at ${opts.url} did not answer hello with ready within ${opts.timeoutMs} ms`,
      fix: "check that AGENT_URL points at a matrix-agent/1 agent (e.g. `npm run agent`) and not at another service",
    }), opts.timeoutMs);
    timer.unref();

    ws.on("open", () => ws.send(JSON.stringify({ op: "hello", protocol: PROTOCOL, client: opts.clientName })));
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const parsed = parseAgentFrame(Buffer.isBuffer(data) ? data.toString("utf8") : String(data));
      if (!parsed.ok) return;
      if (parsed.frame.op === "ready") {
        finish({ ok: true, sessionId: parsed.frame.sessionId, heartbeatMs: parsed.frame.heartbeatMs });
      } else if (parsed.frame.op === "error") {
        finish({ ok: false, what: `the agent answered hello with an error: ${parsed.frame.code}: ${parsed.frame.message}`,
          fix: `check that the agent speaks ${PROTOCOL}` });
      }
    });
    ws.on("unexpected-response", (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      finish(status === 401 || status === 403
        ? { ok: false, what: `the agent refused the token (HTTP ${status})`, fix: "set AGENT_TOKEN to the token the agent expects (the agent's AGENT_TOKEN)" }
        : { ok: false, what: `${opts.url} answered HTTP ${status} instead of a WebSocket upgrade`,
          fix: "check AGENT_URL (host, port and path of the agent's WebSocket; behind a proxy, allow WebSocket upgrades)" });
    });
    ws.on("error", (error: NodeJS.ErrnoException) => finish(describeSocketError(error, opts.url)));
    ws.on("close", (code, reason) => {
      const text = reason.toString("utf8");
      finish(isPolicyClose(code)
        ? { ok: false, what: `the agent closed the connection: ${code}${text ? ` ${text}` : ""}`,
          fix: code === 1008 ? "set AGENT_TOKEN to the token the agent expects" : "see the agent's log for why it refused the bot" }
        : { ok: false, what: `the agent closed the connection before ready (${code}${text ? ` ${text}` : ""})`,
          fix: "see the agent's log" });
    });
  });
}

function describeSocketError(error: NodeJS.ErrnoException, url: string): HandshakeResult {
  const code = error.code;
  if (code === "ECONNREFUSED") {
    return { ok: false, what: `nothing accepts connections at ${url} (connection refused)`,
      fix: "start the agent (`npm run agent`, or its container), or correct AGENT_URL; unset AGENT_URL to use the embedded reference agent" };
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return { ok: false, what: `the host name in AGENT_URL does not resolve (${code})`, fix: "correct AGENT_URL" };
  }
  if (/timed out|timeout/i.test(error.message)) {
    return { ok: false, what: `the WebSocket upgrade to ${url} timed out`, fix: "check that the agent runs and that nothing in between drops the connection" };
  }
  return { ok: false, what: `cannot connect to ${url} (${code ?? error.message})`,
    fix: "check AGENT_URL, the network, and (for wss://) the agent's certificate (NODE_EXTRA_CA_CERTS, runbook/tls.md)" };
}
