// Shared set-up for the command tests: a real sqlite store in a temp dir (behind the fault injector), real
// RoomSettingsStore, the homeserver double with a real MatrixHttp for power levels, fakes for the rest.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { CommandHandler, type CommandDeps, type CommandStatus } from "../../../src/commands";
import type { RoomEvent } from "../../../src/matrix/events";
import { createMatrixHttp, type MatrixHttp } from "../../../src/matrix/http";
import { routeSdkLogsInto } from "../../../src/matrix/sdk";
import { RoomSettingsStore } from "../../../src/rooms/settings";
import { openStore, type Store } from "../../../src/store";
import { FaultyStoreAdapter } from "../../support/faulty-store";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { LogCapture } from "../../support/log-capture";

export interface Reply {
  roomId: string;
  replyTo: string;
  text: string;
}

export interface Harness {
  hs: Homeserver;
  botUserId: string;
  http: MatrixHttp;
  store: Store;
  faulty: FaultyStoreAdapter;
  settings: RoomSettingsStore;
  handler: CommandHandler;
  deps: CommandDeps;
  replies: Reply[];
  cancelled: string[];
  running: Set<string>;
  retried: Array<string | undefined>;
  status: CommandStatus;
  logs: LogCapture;
  /** Sends a text message as `sender` and returns what handle() answered. */
  say(roomId: string, sender: string, body: string, opts?: SayOptions): Promise<boolean>;
  lastReply(): string | undefined;
  close(): Promise<void>;
}

export interface SayOptions {
  isDirect?: boolean;
  threadKey?: string;
  formattedBody?: string;
  mentions?: string[];
}

let counter = 0;

export function textEvent(roomId: string, sender: string, body: string, opts: SayOptions = {}): RoomEvent {
  counter += 1;
  const content: Record<string, unknown> = { msgtype: "m.text", body };
  if (opts.formattedBody !== undefined) Object.assign(content, { format: "org.matrix.custom.html", formatted_body: opts.formattedBody });
  if (opts.mentions !== undefined) content["m.mentions"] = { user_ids: opts.mentions };
  return { event_id: `$cmd${counter}`, room_id: roomId, sender, type: "m.room.message", content, origin_server_ts: Date.now() };
}

export async function startHarness(opts: { botAdmins?: string[]; displayName?: string } = {}): Promise<Harness> {
  routeSdkLogsInto(pino({ level: "silent" })); // the SDK would print refused requests to the console
  const hs = await startHomeserver();
  const bot = hs.addUser("agentbot", { displayName: opts.displayName ?? "Agent Bot" });
  const http = createMatrixHttp({ homeserverUrl: hs.url, accessToken: bot.accessToken, requestTimeoutMs: 5000 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-commands-"));
  let faulty!: FaultyStoreAdapter;
  const store = await openStore(`sqlite://${path.join(dir, "bot.sqlite")}`, {
    logger: pino({ level: "silent" }), wrapAdapter: (a) => (faulty = new FaultyStoreAdapter(a)),
  });
  const logs = new LogCapture();
  const log = pino({ level: "debug" }, logs);
  const settings = new RoomSettingsStore({
    settings: store.namespace<unknown>("room-settings"),
    proactiveIndex: store.namespace<number>("proactive-rooms"),
    log, retries: 2, retryDelayMs: 1,
  });
  const replies: Reply[] = [];
  const cancelled: string[] = [];
  const running = new Set<string>();
  const retried: Array<string | undefined> = [];
  const status: CommandStatus = { link: "connected", store: "ok", pending: 0, dead: 0 };
  const deps: CommandDeps = {
    botUserId: bot.userId,
    botDisplayName: opts.displayName ?? "Agent Bot",
    botAdmins: opts.botAdmins ?? [],
    http, settings, log,
    pipeline: {
      cancel: (threadKey) => {
        cancelled.push(threadKey);
        return running.delete(threadKey);
      },
    },
    status: async () => ({ ...status }),
    outbox: {
      retryDead: async (roomId) => {
        retried.push(roomId);
        return roomId === undefined ? 5 : 2;
      },
    },
    reply: async (roomId, replyTo, text) => void replies.push({ roomId, replyTo, text }),
  };
  const handler = new CommandHandler(deps);
  return {
    hs, botUserId: bot.userId, http, store, faulty, settings, handler, deps, replies, cancelled, running, retried, status, logs,
    say: (roomId, sender, body, o = {}) =>
      handler.handle(textEvent(roomId, sender, body, o), { isDirect: o.isDirect ?? false, threadKey: o.threadKey ?? `tk-${roomId}` }),
    lastReply: () => replies[replies.length - 1]?.text,
    close: async () => {
      await store.close().catch(() => undefined);
      await hs.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
