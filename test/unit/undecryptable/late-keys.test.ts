// The late-key path with a scripted crypto device (the real one is in test/e2e/crypto/late-keys.test.ts): an
// unreadable message is counted, held and noticed once per room; a matching room key reads it, reopens it in the
// journal once and routes it; the notice is withdrawn by an edit once nothing of the room waits, and never twice.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { listNamespace } from "../../../src/app/matrix-helpers";
import type { RoomEvent } from "../../../src/matrix/events";
import type { SendResult } from "../../../src/matrix/sender";
import { EncryptedRoomNotice, NOTICE_WITHDRAWN, type NoticeRecord } from "../../../src/rooms/encrypted-notice";
import { HeldEvents, type HeldRecord } from "../../../src/rooms/undecryptable/held-events";
import { LateKeys, type LateDecryptor } from "../../../src/rooms/undecryptable/late-keys";
import { openStore, type Store } from "../../../src/store";
import type { UndecryptableCause } from "../../../src/matrix/crypto";
import { waitFor } from "../../support/wait";

const ROOM = "!r:example.org";
const encrypted = (n: number, sessionId = "S1"): RoomEvent => ({
  event_id: `$e${n}`, room_id: ROOM, type: "m.room.encrypted", sender: "@alice:example.org", origin_server_ts: 1_700_000_000_000 + n,
  content: { algorithm: "m.megolm.v1.aes-sha2", sender_key: "K", session_id: sessionId, ciphertext: `c${n}` },
});
const clearOf = (e: RoomEvent): RoomEvent => ({ ...e, type: "m.room.message", content: { msgtype: "m.text", body: `clear ${e.event_id}` } });

/** A crypto device whose room keys the test hands out. */
class ScriptedCrypto implements LateDecryptor {
  readonly sessions = new Set<string>();
  private listener: ((keys: Array<{ roomId: string; sessionId: string }>) => void) | undefined;
  async redecrypt(event: RoomEvent): Promise<{ ok: true; event: RoomEvent } | { ok: false; cause: UndecryptableCause }> {
    return this.sessions.has(String(event.content["session_id"])) ? { ok: true, event: clearOf(event) } : { ok: false, cause: "missing_key" };
  }
  onRoomKeys(listener: (keys: Array<{ roomId: string; sessionId: string }>) => void): void {
    this.listener = listener;
  }
  keyArrives(sessionId: string): void {
    this.sessions.add(sessionId);
    this.listener?.([{ roomId: ROOM, sessionId }]);
  }
}

describe("LateKeys", () => {
  let dir: string;
  const opened: Store[] = [];
  const sent: Array<{ content: Record<string, unknown>; txnId: string }> = [];
  const causes: string[] = [];
  let late = 0;
  const heldCounts: number[] = [];
  const droppedCounts: Array<[number, string]> = [];
  const stops: Array<() => void> = [];
  const sender = {
    sendEvent: async (_roomId: string, _type: string, content: Record<string, unknown>, txnId: string): Promise<SendResult> => {
      const earlier = sent.findIndex((s) => s.txnId === txnId); // the homeserver dedupes txnIds
      if (earlier < 0) sent.push({ content, txnId });
      return { ok: true, eventId: `$sent${earlier < 0 ? sent.length - 1 : earlier}`, attempts: 1 };
    },
    setTyping: async () => undefined,
    sendReadReceipt: async () => undefined,
  };

  /** A bot start: the held events, the notice and a journal stand-in on one store; routed events collected. */
  const start = async (crypto: ScriptedCrypto | undefined, reopened: Set<string>, maxAgeMs = 60_000) => {
    const store = await openStore(`sqlite://${path.join(dir, "bot.sqlite")}`, { logger: pino({ level: "silent" }) });
    opened.push(store);
    const kv = store.namespace<HeldRecord>("undecryptable-held");
    const log = pino({ level: "silent" });
    const held = new HeldEvents(kv, { max: 10, maxAgeMs, list: () => listNamespace(kv), onDropped: (n, why) => droppedCounts.push([n, why]) }, log);
    const notice = new EncryptedRoomNotice(store.namespace<NoticeRecord>("encrypted-notice"), sender, log, "cannot read");
    const routed: RoomEvent[] = [];
    let chain = Promise.resolve();
    const lateKeys = new LateKeys({ crypto, held, notice, log,
      journal: { reopen: async (e) => (reopened.has(e.event_id) ? false : (reopened.add(e.event_id), true)) },
      routeLater: (_roomId, work) => {
        chain = chain.then(async () => {
          const e = await work();
          if (e) routed.push(e);
        });
      },
      metrics: { undecryptable: (c) => causes.push(c), lateDecrypted: () => (late += 1), held: (n) => heldCounts.push(n) },
      expiryCheckMs: 20 });
    await lateKeys.start();
    stops.push(() => lateKeys.stop());
    return { lateKeys, routed, held, settle: async () => { await new Promise((r) => setImmediate(r)); await chain; } };
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "latekeys-orchestrator-"));
    sent.length = 0;
    causes.length = 0;
    late = 0;
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) stop();
    heldCounts.length = 0;
    droppedCounts.length = 0;
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("holds, notices once, reads each message once its key comes, and withdraws the notice when the room has none left", async () => {
    const crypto = new ScriptedCrypto();
    const bot = await start(crypto, new Set());
    expect(await bot.lateKeys.onUnreadable(encrypted(1, "S1"))).toBeUndefined();
    expect(await bot.lateKeys.onUnreadable(encrypted(2, "S2"))).toBeUndefined();
    expect(causes).toEqual(["missing_key", "missing_key"]);
    expect(sent.map((s) => s.content["body"])).toEqual(["cannot read"]);

    crypto.keyArrives("S1");
    await bot.settle();
    expect(bot.routed).toEqual([clearOf(encrypted(1))]);
    expect(sent).toHaveLength(1); // $e2 still waits: the notice stays
    crypto.keyArrives("S1"); // the same key again (a forwarded copy): nothing more
    crypto.keyArrives("S2");
    await bot.settle();
    expect(bot.routed).toEqual([clearOf(encrypted(1)), clearOf(encrypted(2))]);
    expect(late).toBe(2);
    expect(sent[1]?.content).toMatchObject({ "m.relates_to": { rel_type: "m.replace", event_id: "$sent0" },
      "m.new_content": { msgtype: "m.notice", body: NOTICE_WITHDRAWN } });
    expect(bot.held.size).toBe(0);

    // A later unreadable message: a new notice (the old one says it was read), then its own withdrawal.
    await bot.lateKeys.onUnreadable(encrypted(3, "S3"));
    expect(sent.map((s) => s.content["body"])).toEqual(["cannot read", `* ${NOTICE_WITHDRAWN}`, "cannot read"]);
    expect(new Set(sent.map((s) => s.txnId)).size).toBe(3);
  });

  it("reads a message whose key came meanwhile at once, and after a restart finishes a late read cut short, without routing it twice", async () => {
    const crypto = new ScriptedCrypto();
    crypto.sessions.add("S0");
    const bot = await start(crypto, new Set());
    expect(await bot.lateKeys.onUnreadable(encrypted(0, "S0"))).toEqual(clearOf(encrypted(0, "S0"))); // no notice, not held
    expect(sent).toEqual([]);
    await bot.lateKeys.onUnreadable(encrypted(1, "S1"));
    await opened[0]?.close();

    // Down: the key came, and the journal had reopened the event before a SIGKILL (it answers it from there).
    const after = new ScriptedCrypto();
    after.sessions.add("S1");
    const restarted = await start(after, new Set(["$e1"]));
    await restarted.settle();
    expect(restarted.routed).toEqual([]); // the journal's recovery routes it, not the late-key path
    expect(restarted.held.size).toBe(0);
    expect(sent.map((s) => s.content["body"])).toEqual(["cannot read", `* ${NOTICE_WITHDRAWN}`]);
    expect(late).toBe(0);
  });

  it("without MATRIX_E2EE: counts encryption_off, posts the notice, holds nothing", async () => {
    const bot = await start(undefined, new Set());
    expect(await bot.lateKeys.onUnreadable(encrypted(1))).toBeUndefined();
    expect(causes).toEqual(["encryption_off"]);
    expect(sent).toHaveLength(1);
    expect(bot.held.size).toBe(0);
  });

  it("drops a message whose key did not come in time, counted, even when nothing else happens", async () => {
    const bot = await start(new ScriptedCrypto(), new Set(), 200);
    await bot.lateKeys.onUnreadable(encrypted(1));
    expect(bot.held.size).toBe(1);
    await waitFor(() => bot.held.size === 0, { what: "the expired message dropped" });
    expect(droppedCounts).toEqual([[1, "expired"]]);
    await waitFor(() => heldCounts.at(-1) === 0, { what: "the held gauge back at 0" });
  });
});
