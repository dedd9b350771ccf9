// A person's real Matrix client in tests: matrix-js-sdk 34 with its Rust crypto, running in a child node process
// (test/support/js-sdk-peer/peer.mjs; the SDK is ESM-only, jest here is CommonJS), driven over JSON lines.
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { LIVE_MARKER } from "../../src/render/live-content";
import { ROOT } from "./bot-harness";
import { DEFAULT_WAIT_MS, scaled, TEST_TIME_SCALE, waitFor } from "./wait";
import { killGroup, spawnGroup } from "./child-processes";

const PEER_SCRIPT = path.join(ROOT, "test", "support", "js-sdk-peer", "peer.mjs");
const PREFIX = "@@peer ";

/** A message as the person's client shows it: decrypted where possible, with what travelled on the wire. */
export interface PeerMessage {
  eventId: string;
  sender: string;
  /** The type the homeserver carried (`m.room.encrypted` for an encrypted event). */
  wireType: string;
  /** The clear type after decryption. */
  type: string;
  encrypted: boolean;
  decryptionFailure: boolean;
  /** The clear content (body, msgtype, …), with the latest edit the client applied. */
  content: Record<string, unknown>;
  /** The clear content as sent, before any edit. */
  originalContent: Record<string, unknown>;
}

/** A poll as matrix-js-sdk's Poll model holds it. */
export interface PeerPoll {
  pollId: string;
  sender: string;
  /** Whether its start event travelled encrypted. */
  encrypted: boolean;
  question: string;
  kind: string;
  maxSelections: number;
  answers: Array<{ id: string; text: string }>;
  /** Ended by a valid end event (from the poll's sender or a user who may redact it). */
  ended: boolean;
  endEncrypted: boolean;
  /** The end event's closing text. */
  endText?: string;
}

export interface PeerOptions {
  /** Rust crypto (default true); false: a plain client, quicker to start. */
  crypto?: boolean;
  /** The /sync long-poll timeout (default 200 ms, for the double). */
  pollTimeout?: number;
  /** A sync filter keeping this many timeline events per room and sync (default: the server's). */
  timelineLimit?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class JsSdkPeer {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** What the SDK logged (stderr), for diagnosing a failure. */
  readonly stderr: string[] = [];
  private readonly exited: Promise<void>;

  constructor(private readonly creds: { hsUrl: string; userId: string; accessToken: string; deviceId: string },
    private readonly options: PeerOptions = {}) {
    this.child = spawnGroup(process.execPath, [PEER_SCRIPT], { cwd: path.dirname(PEER_SCRIPT), stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: process.env["PATH"] ?? "", TEST_TIME_SCALE: String(TEST_TIME_SCALE),
        ...(process.env["PEER_LOG_LEVEL"] ? { PEER_LOG_LEVEL: process.env["PEER_LOG_LEVEL"] } : {}) } });
    createInterface({ input: this.child.stdout! }).on("line", (line) => this.onLine(line));
    this.child.stderr?.on("data", (chunk: Buffer) => this.stderr.push(chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on("exit", () => {
      for (const p of this.pending.values()) p.reject(new Error(`the js-sdk peer exited; stderr:\n${this.stderr.join("").slice(-4000)}`));
      this.pending.clear();
      resolve();
    }));
  }

  get userId(): string {
    return this.creds.userId;
  }

  private onLine(line: string): void {
    if (!line.startsWith(PREFIX)) return;
    const msg = JSON.parse(line.slice(PREFIX.length)) as { id: number; ok: boolean; result?: unknown; error?: string };
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(`js-sdk peer: ${msg.error ?? "failed"}`));
  }

  private call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin?.write(`${JSON.stringify({ id, cmd, args })}\n`);
    });
  }

  /** Signs in, sets up Rust crypto (uploads its keys) unless `crypto: false`, first sync. */
  start(): Promise<{ deviceId: string; curve25519?: string }> {
    return this.call("start", { baseUrl: this.creds.hsUrl, userId: this.creds.userId, accessToken: this.creds.accessToken,
      deviceId: this.creds.deviceId, ...this.options });
  }

  /** POST /createRoom with a spec body; resolves once this client has the room. */
  async createRoom(body: Record<string, unknown>): Promise<string> {
    return (await this.call<{ roomId: string }>("createRoom", { body })).roomId;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.call("invite", { roomId, userId });
  }

  async join(roomIdOrAlias: string, via: string[] = []): Promise<string> {
    return (await this.call<{ roomId: string }>("join", { roomIdOrAlias, via })).roomId;
  }

  /** Any room event content (mentions, replies, formatted bodies); `type` defaults to m.room.message. */
  async sendContent(roomId: string, content: Record<string, unknown>, type = "m.room.message"): Promise<string> {
    return (await this.call<{ eventId: string }>("sendContent", { roomId, type, content })).eventId;
  }

  async sendState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string> {
    return (await this.call<{ eventId: string }>("sendState", { roomId, type, stateKey, content })).eventId;
  }

  /** Sends `body`, waits until the timeline shows `expect` from `from`, written to its end; the milliseconds in between. */
  async timedTurn(roomId: string, body: string, from: string, expect: string, timeoutMs = 30_000): Promise<number> {
    return (await this.call<{ ms: number }>("timedTurn", { roomId, body, from, expect, liveMarker: LIVE_MARKER, timeoutMs })).ms;
  }

  /** The room's whole history as the homeserver serves it (every /messages page), oldest first, decrypted. */
  async history(roomId: string): Promise<PeerMessage[]> {
    return (await this.call<{ messages: PeerMessage[] }>("history", { roomId })).messages;
  }

  async createEncryptedRoom(opts: { invite?: string[]; isDirect?: boolean } = {}): Promise<string> {
    return (await this.call<{ roomId: string }>("createEncryptedRoom", opts)).roomId;
  }

  async waitMember(roomId: string, userId: string, membership = "join", timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    await this.call("waitMember", { roomId, userId, membership, timeoutMs: scaled(timeoutMs) });
  }

  async send(roomId: string, body: string): Promise<string> {
    return (await this.call<{ eventId: string }>("send", { roomId, body })).eventId;
  }

  /** Uploads `bytes` encrypted (as Element does) and sends the media event; `tamper` alters the uploaded ciphertext. */
  async sendEncryptedFile(roomId: string, file: { msgtype: string; filename: string; mimetype: string; bytes: Buffer; caption?: string; tamper?: boolean }): Promise<string> {
    const { bytes, ...rest } = file;
    return (await this.call<{ eventId: string }>("sendEncryptedFile", { roomId, ...rest, data: bytes.toString("base64") })).eventId;
  }

  /** Uploads `bytes` as they are (POST /_matrix/media/v3/upload) and sends the media event with their mxc:// `url`. */
  async sendFile(roomId: string, file: { msgtype: string; filename: string; mimetype: string; bytes: Buffer; caption?: string }): Promise<{ eventId: string; url: string }> {
    const { bytes, ...rest } = file;
    return this.call<{ eventId: string; url: string }>("sendFile", { roomId, ...rest, data: bytes.toString("base64") });
  }

  /** Share room keys only with verified devices (the bot's device is not): the bot then cannot decrypt. */
  async onlyVerifiedDevices(on: boolean): Promise<void> {
    await this.call("onlyVerifiedDevices", { on });
  }

  /** The next message in the room starts a new Megolm session, its key shared with the devices known then. */
  async discardSession(roomId: string): Promise<void> {
    await this.call("discardSession", { roomId });
  }

  /** What this client says of another device (a user it shares an encrypted room with), from the keys it tracks. */
  async deviceTrust(userId: string, deviceId: string): Promise<{ known: boolean; signedByOwner: boolean; crossSigningVerified: boolean }> {
    return this.call("deviceTrust", { userId, deviceId });
  }

  /** The room's polls as matrix-js-sdk's poll support (Room.polls) reads them from the decrypted events. */
  async polls(roomId: string): Promise<PeerPoll[]> {
    return (await this.call<{ polls: PeerPoll[] }>("polls", { roomId })).polls;
  }

  async messages(roomId: string): Promise<PeerMessage[]> {
    return (await this.call<{ messages: PeerMessage[] }>("messages", { roomId })).messages;
  }

  /** Polls this client's timeline until `probe` finds what it wants. */
  waitMessages<T>(roomId: string, probe: (messages: PeerMessage[]) => T | undefined | false, what: string, timeoutMs?: number): Promise<T> {
    return this.waitOn(() => this.messages(roomId), probe, what, timeoutMs,
      (ms) => `the client shows ${JSON.stringify(ms.map((m) => [m.sender, m.wireType, m.content["body"]]))}`);
  }

  /** Polls this client's polls (Room.polls) until `probe` finds what it wants. */
  waitPolls<T>(roomId: string, probe: (polls: PeerPoll[]) => T | undefined | false, what: string, timeoutMs?: number): Promise<T> {
    return this.waitOn(() => this.polls(roomId), probe, what, timeoutMs, (ps) => `the client holds polls ${JSON.stringify(ps)}`);
  }

  private async waitOn<S, T>(read: () => Promise<S[]>, probe: (seen: S[]) => T | undefined | false, what: string,
    timeoutMs: number | undefined, show: (seen: S[]) => string): Promise<T> {
    let last: S[] = [];
    return waitFor(async () => {
      last = await read();
      return probe(last) || undefined;
    }, { what, intervalMs: 50, ...(timeoutMs !== undefined ? { timeoutMs } : {}), describe: () => show(last) });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await this.call("stop").catch(() => undefined);
      const timer = setTimeout(() => killGroup(this.child, "SIGKILL"), 2000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}
