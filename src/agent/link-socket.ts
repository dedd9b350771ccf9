// The connection half of AgentLink: one WebSocket at a time, hello/ready handshake, heartbeat with
// half-open detection, full-jitter reconnect (reset only after staying up), slow retry on policy closes.
// The reconnect delay's ceiling is also at most twice the outage so far: a short outage cannot draw a long wait
// (after an agent restart of ≤ 1 s the link is back within ~2 s of the agent listening again, not up to
// AGENT_RECONNECT_MAX_MS later), while a long or flapping outage still backs off exponentially.
import WebSocket from "ws";
import type { Logger } from "pino";
import type { AgentLinkOptions, LinkState, LinkStats, PersistedSession } from "./link-types";
import { LINK_DEFAULTS } from "./link-types";
import { callSafely, clipForLog, fullJitterDelay, holdWritesForTick, isPolicyClose, unrefTimer } from "./link-util";
import { PROTOCOL, PROTOCOLS_OFFERED, parseAgentFrame, versionOf } from "./protocol";
import type { AgentFrame, AgentFrameV2, BotFrame, ReadyFrame } from "./protocol";
import type { ProtocolVersion } from "./protocol-v2";

/** A frame after ready, with the protocol of its connection. */
export type ConnectionFrame = { version: 1; frame: AgentFrame } | { version: 2; frame: AgentFrameV2 };

export interface AgentSocketHooks {
  /** The `resume` to send in hello (called before every connection attempt). */
  loadResume(): Promise<PersistedSession | undefined>;
  onReady(epoch: number, frame: ReadyFrame): void;
  /** Every frame after ready, on connection `epoch`. */
  onFrame(epoch: number, frame: ConnectionFrame): void;
  /** A frame failed to parse (already counted and logged). */
  onMalformed(error: string, runId: string | undefined): void;
  /** The connection `epoch` is gone (not called for stop()). */
  onGone(epoch: number, code: number): void;
}

type SocketOptions = Pick<
  AgentLinkOptions,
  | "url"
  | "token"
  | "clientName"
  | "heartbeatMs"
  | "pongTimeoutMs"
  | "reconnectBaseMs"
  | "reconnectMaxMs"
  | "reconnectResetMs"
  | "maxFrameBytes"
  | "connectTimeoutMs"
  | "random"
>;

export class AgentSocket {
  private current: LinkState = "down";
  private stopped = false;
  private ws: WebSocket | undefined;
  private epoch = 0;
  /** The epoch whose connection is ready (up), or -1. */
  private readyEpoch = -1;
  /** The protocol the ready connection speaks. */
  private version: ProtocolVersion = 1;
  private attempt = 0;
  /** When the link first went down since it last stayed up (reconnectResetMs): the start of this outage. */
  private downSince: number | undefined;
  private authRejected = false;
  private readonly listeners = new Set<(s: LinkState) => void>();
  private readonly random: () => number;
  private readonly connectTimeoutMs: number;
  private reconnectTimer?: NodeJS.Timeout;
  private connectTimer?: NodeJS.Timeout;
  private resetTimer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;
  private pongTimer?: NodeJS.Timeout;

  constructor(
    private readonly opts: SocketOptions,
    private readonly log: Logger,
    private readonly stats: LinkStats,
    private readonly hooks: AgentSocketHooks,
  ) {
    this.random = opts.random ?? Math.random;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? LINK_DEFAULTS.connectTimeoutMs;
  }

  state(): LinkState {
    return this.current;
  }

  /** The epoch of the connection that is up, or -1. */
  upEpoch(): number {
    return this.readyEpoch;
  }

  onStateChange(cb: (state: LinkState) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  start(): void {
    if (this.stopped || this.current !== "down" || this.reconnectTimer) return;
    this.connect();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clearConnectionTimers();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const ws = this.ws;
    this.ws = undefined;
    this.epoch += 1;
    this.readyEpoch = -1;
    this.setState("stopped");
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const t = unrefTimer(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once("close", () => {
        clearTimeout(t);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, "bot stopping");
    });
  }

  /** Send on the connection that is up (or on `ws` during the handshake). False when there is none. */
  send(frame: BotFrame, ws: WebSocket | undefined = this.readyEpoch === this.epoch ? this.ws : undefined): boolean {
    return this.sendText(JSON.stringify(frame), ws);
  }

  sendText(text: string, ws: WebSocket | undefined = this.readyEpoch === this.epoch ? this.ws : undefined, onError?: () => void): boolean {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    holdWritesForTick(ws);
    ws.send(text, (err) => {
      if (!err) return;
      this.log.warn({ err: { message: err.message } }, "agent link: send failed");
      onError?.();
    });
    return true;
  }

  private connect(): void {
    if (this.stopped) return;
    const epoch = ++this.epoch;
    this.setState("connecting");
    void this.openSocket(epoch).catch((err: unknown) => {
      this.log.error({ err }, "agent link: could not open the connection");
      this.gone(epoch, 1006, "connect failed");
    });
  }

  private async openSocket(epoch: number): Promise<void> {
    const resume = await this.hooks.loadResume();
    if (this.stopped || epoch !== this.epoch) return;
    this.authRejected = false;
    const headers: Record<string, string> = {};
    if (this.opts.token) headers.Authorization = `Bearer ${this.opts.token}`;
    const ws = new WebSocket(this.opts.url, {
      headers,
      maxPayload: this.opts.maxFrameBytes,
      handshakeTimeout: this.connectTimeoutMs,
      perMessageDeflate: false,
    });
    this.ws = ws;
    this.connectTimer = unrefTimer(() => {
      this.log.warn("agent link: no ready within connectTimeoutMs; dropping the connection");
      ws.terminate();
    }, this.connectTimeoutMs);
    ws.on("open", () => {
      this.send({ op: "hello", protocol: PROTOCOL, protocols: [...PROTOCOLS_OFFERED], client: this.opts.clientName,
        ...(resume ? { resume } : {}) }, ws);
    });
    ws.on("message", (data, isBinary) => {
      if (epoch !== this.epoch) return;
      this.heardFrom(); // any frame proves the peer alive: a pong may sit behind a backlog of frames still being read
      try {
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
        const text = buf.toString("utf8");
        this.onText(epoch, isBinary ? undefined : text);
      } catch (err) {
        this.log.error({ err }, "agent link: frame handling failed");
      }
    });
    ws.on("pong", () => this.heardFrom());
    ws.on("error", (err) => {
      const status = /Unexpected server response: (\d+)/.exec(err.message)?.[1];
      if (status === "401" || status === "403") this.authRejected = true;
      this.log.warn({ err: { message: err.message } }, "agent link: socket error");
    });
    ws.on("close", (code, reason) => this.gone(epoch, code, reason.toString("utf8")));
  }

  /** The peer answered (a pong or any frame): the pending liveness check is satisfied. */
  private heardFrom(): void {
    if (this.pongTimer) clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
  }

  private onText(epoch: number, raw: string | undefined): void {
    const version: ProtocolVersion = this.readyEpoch === epoch ? this.version : 1; // ready is the same in both
    const parsed = raw === undefined ? ({ ok: false, error: "binary frame" } as const) : parseAgentFrame(raw, version);
    if (!parsed.ok) {
      const runId = "runId" in parsed ? parsed.runId : undefined;
      this.stats.framesRejected += 1;
      this.log.warn({ error: parsed.error, runId: clipForLog(runId) }, "agent link: malformed frame rejected");
      this.hooks.onMalformed(parsed.error, runId);
      return;
    }
    const frame = parsed.frame;
    if (frame.op === "ready") {
      if (this.readyEpoch === epoch) {
        this.stats.framesRejected += 1;
        this.log.warn("agent link: a second ready on one connection; ignored");
        return;
      }
      this.onReady(epoch, frame);
      return;
    }
    if (this.readyEpoch !== epoch) {
      this.stats.framesRejected += 1;
      this.log.warn({ op: frame.op }, "agent link: frame before ready; ignored");
      return;
    }
    this.hooks.onFrame(epoch, version === 2 ? { version, frame: frame as AgentFrameV2 } : { version: 1, frame: frame as AgentFrame });
  }

  private onReady(epoch: number, frame: ReadyFrame): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.readyEpoch = epoch;
    this.version = versionOf(frame);
    this.startHeartbeat(Math.min(this.opts.heartbeatMs, frame.heartbeatMs ?? Infinity));
    this.resetTimer = unrefTimer(() => {
      this.attempt = 0;
      this.downSince = undefined;
    }, this.opts.reconnectResetMs);
    this.hooks.onReady(epoch, frame);
    this.setState("up");
  }

  private startHeartbeat(intervalMs: number): void {
    const tick = (): void => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      if (!this.pongTimer) {
        this.pongTimer = unrefTimer(() => {
          // Judge after this loop turn's I/O: when the event loop was busy, the pong may be read just now.
          setImmediate(() => {
            if (this.pongTimer === undefined || this.ws !== ws) return;
            this.log.warn("agent link: no pong in time (half-open connection?); dropping it");
            ws.terminate();
          });
        }, this.opts.pongTimeoutMs);
      }
      try {
        ws.ping();
      } catch (err) {
        this.log.warn({ err }, "agent link: ping failed");
      }
      this.heartbeatTimer = unrefTimer(tick, intervalMs);
    };
    this.heartbeatTimer = unrefTimer(tick, intervalMs);
  }

  private gone(epoch: number, code: number, reason: string): void {
    if (epoch !== this.epoch || this.stopped) return;
    const wasUp = this.readyEpoch === epoch;
    this.clearConnectionTimers();
    this.ws = undefined;
    this.readyEpoch = -1;
    this.epoch += 1;
    this.setState("down");
    callSafely(this.log, "onGone", () => this.hooks.onGone(epoch, code));
    const policy = isPolicyClose(code) || this.authRejected;
    const now = Date.now();
    this.downSince ??= now;
    const outageMs = now - this.downSince;
    const ceiling = Math.min(this.opts.reconnectMaxMs, 2 * Math.max(this.opts.reconnectBaseMs, outageMs));
    const delay = policy ? this.opts.reconnectMaxMs : fullJitterDelay(this.attempt, this.opts.reconnectBaseMs, ceiling, this.random);
    this.attempt += 1;
    const info = { code, reason, delayMs: delay, attempt: this.attempt, outageMs, wasUp };
    if (policy) this.log.error(info, "agent link: the agent refused the connection (auth or policy); retrying slowly");
    else this.log.warn(info, "agent link: connection closed; reconnecting");
    this.reconnectTimer = unrefTimer(() => {
      this.reconnectTimer = undefined;
      this.stats.reconnects += 1;
      this.connect();
    }, delay);
  }

  private clearConnectionTimers(): void {
    for (const t of [this.connectTimer, this.resetTimer, this.heartbeatTimer, this.pongTimer]) if (t) clearTimeout(t);
    this.connectTimer = this.resetTimer = this.heartbeatTimer = this.pongTimer = undefined;
  }

  private setState(next: LinkState): void {
    if (this.current === next) return;
    this.current = next;
    for (const cb of [...this.listeners]) callSafely(this.log, "onStateChange listener", () => cb(next));
  }
}
