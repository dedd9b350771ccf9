// Live answers, wired: the rate-limit gate the sender feeds, the live-message records, the streaming policy
// (STREAMING, /stream, the room's MSC4357 state), what rooms show of the agent's work (/toollines, /details) and
// the recovery of messages a crash left live.
import type { Logger } from "pino";
import type { Config } from "../config";
import { normalizeMatrixError } from "../matrix/errors";
import { enc, type MatrixHttp } from "../matrix/http";
import type { Outbox } from "../outbox";
import { UnrecordedRuns } from "../outbox/unrecorded";
import type { LiveRendering } from "../render/answer";
import { LivePolicy } from "../render/live-policy";
import { recoverLiveMessages } from "../render/live-recovery";
import { LiveStore } from "../render/live-store";
import { LIVE_DEFAULTS, RateLimitGate } from "../render/pacing";
import type { RoomSettingsStore } from "../rooms/settings";
import type { Store } from "../store";

export interface LiveWiring {
  /** Fed with every retry_after_ms the sender waits (live edits wait for it too). */
  gate: RateLimitGate;
  /** Follows the rooms' MSC4357 state (a router observer). */
  policy: LivePolicy;
  /** The txnIds of fresh runs (src/outbox/unrecorded.ts): the outbox is given it too (wireOutgoing). */
  unrecorded: UnrecordedRuns;
  /** What the turns render with (intermediate edits go through `outbox` as "live": dropped, never dead letters). */
  rendering(outbox: Pick<Outbox, "send">, isEncrypted: ((roomId: string) => Promise<boolean>) | undefined): LiveRendering;
  /** Ends the live messages a crash left (after outbox.recover(), before the journal's turns run again). */
  recover(outbox: Pick<Outbox, "send" | "isRecorded">, log: Logger): Promise<number>;
}

export function wireLive(config: Config, store: Store, http: MatrixHttp, settings: RoomSettingsStore, log: Logger): LiveWiring {
  const t = config.timings;
  const gate = new RateLimitGate();
  const unrecorded = new UnrecordedRuns();
  const records = new LiveStore(store.namespace("live-messages"), log, unrecorded);
  const policy = new LivePolicy({
    defaultMode: config.streaming, log,
    roomSetting: async (roomId) => (await settings.get(roomId)).streaming,
    readState: async (roomId, type) => {
      try {
        return await http.request<Record<string, unknown>>("GET", `/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/`);
      } catch (e) {
        const error = normalizeMatrixError(e, "GET state");
        if (error.kind === "not_found") return undefined;
        throw error;
      }
    },
  });
  return {
    gate,
    policy,
    unrecorded,
    rendering: (outbox, isEncrypted) => ({
      sendLive: (roomId, content, txnId) => outbox.send(roomId, "m.room.message", content, txnId, { kind: "live" }),
      streams: (roomId) => policy.streams(roomId),
      workVisibility: async (roomId) => {
        const { toolLines, details } = await settings.get(roomId);
        return { toolLines: toolLines !== "off", details: details === "on" };
      },
      encrypted: isEncrypted ?? (async () => false),
      store: records, gate, unrecorded,
      options: { ...LIVE_DEFAULTS, editIntervalMs: t.streamEditIntervalMs, slowEditIntervalMs: t.streamSlowEditIntervalMs, maxEdits: t.streamMaxEdits },
    }),
    recover: (outbox, recoveryLog) => recoverLiveMessages({
      store: records, log: recoveryLog, isRecorded: (txnId) => outbox.isRecorded(txnId),
      send: (roomId, content, txnId) => outbox.send(roomId, "m.room.message", content, txnId, { kind: "reply" }),
    }),
  };
}
