// An encrypting Matrix client for tests, small and fully under our control: a crypto-wasm OlmMachine (through
// the crypto-nodejs bridge) driven over HTTP against the homeserver double, the way a real client does it:
// keys/upload at start, to-device + device lists from /sync, keys/query + keys/claim + sendToDevice before
// sending, m.room.encrypted into the room.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */
import { MatrixTestUser } from "./matrix-test-user";

const b = require("@matrix-org/matrix-sdk-crypto-nodejs");
type Json = Record<string, any>;

export class CryptoPeer {
  private machine: any;
  private since: string | undefined;
  readonly user: MatrixTestUser;

  constructor(hsUrl: string, creds: { userId: string; accessToken: string; deviceId: string }) {
    this.user = new MatrixTestUser(hsUrl, creds);
    this.deviceId = creds.deviceId;
  }
  readonly deviceId: string;

  get userId(): string {
    return this.user.userId;
  }

  async start(): Promise<void> {
    this.machine = await b.OlmMachine.initialize(new b.UserId(this.userId), new b.DeviceId(this.deviceId), "", "", b.StoreType.Sqlite);
    await this.run();
  }

  /** Answers everything the machine asks the homeserver for. */
  async run(): Promise<void> {
    for (const r of await this.machine.outgoingRequests()) {
      const body = JSON.parse(r.body);
      let resp: Json = {};
      if (r.type === b.RequestType.KeysUpload) resp = await this.user.call("POST", "keys/upload", { body });
      else if (r.type === b.RequestType.KeysQuery) resp = await this.user.call("POST", "keys/query", { body });
      else if (r.type === b.RequestType.KeysClaim) resp = await this.user.call("POST", "keys/claim", { body });
      else if (r.type === b.RequestType.ToDevice) {
        await this.toDevice(body.event_type, body.txn_id, body.messages);
        await this.machine.markRequestAsSent(body.txn_id, r.type, "{}");
        continue;
      } else continue;
      await this.machine.markRequestAsSent(r.id, r.type, JSON.stringify(resp));
    }
  }

  private async toDevice(type: string, txnId: string, messages: Json): Promise<void> {
    await this.user.call("PUT", `sendToDevice/${encodeURIComponent(type)}/${encodeURIComponent(txnId)}`, { body: { messages } });
  }

  /** One /sync: crypto sections fed to the machine; returns the joined rooms' timeline events (raw). */
  async sync(timeout = 0): Promise<Array<Json & { room_id: string }>> {
    const res = (await this.user.sync({ ...(this.since !== undefined ? { since: this.since } : {}), timeout })) as Json;
    this.since = res["next_batch"];
    await this.machine.receiveSyncChanges(JSON.stringify(res["to_device"]?.events ?? []),
      new b.DeviceLists((res["device_lists"]?.changed ?? []).map((u: string) => new b.UserId(u)), []),
      res["device_one_time_keys_count"] ?? {}, res["device_unused_fallback_key_types"] ?? []);
    await this.run();
    const out: Array<Json & { room_id: string }> = [];
    for (const [roomId, room] of Object.entries<Json>(res["rooms"]?.join ?? {})) {
      for (const e of room["timeline"]?.events ?? []) out.push({ ...e, room_id: roomId });
    }
    return out;
  }

  /** Sends an encrypted message to every joined member's devices (`only`: to these users' devices alone). */
  async sendEncrypted(roomId: string, content: Json, opts: { only?: string[] } = {}): Promise<string> {
    const joined = Object.keys((await this.user.call<Json>("GET", `rooms/${encodeURIComponent(roomId)}/joined_members`))["joined"]);
    const members = (opts.only ?? joined).map((u) => new b.UserId(u));
    await this.machine.updateTrackedUsers(members);
    await this.run();
    const claim = await this.machine.getMissingSessions(members);
    if (claim) await this.machine.markRequestAsSent(claim.id, claim.type, JSON.stringify(await this.user.call("POST", "keys/claim", { body: JSON.parse(claim.body) })));
    for (const req of JSON.parse(await this.machine.shareRoomKey(new b.RoomId(roomId), members, new b.EncryptionSettings()))) {
      await this.toDevice(req.event_type, req.txn_id, req.messages);
      await this.machine.markRequestAsSent(req.txn_id, b.RequestType.ToDevice, "{}");
    }
    const encrypted = JSON.parse(await this.machine.encryptRoomEvent(new b.RoomId(roomId), "m.room.message", JSON.stringify(content)));
    return this.user.send(roomId, "m.room.encrypted", encrypted);
  }

  /** The clear content of an m.room.encrypted event, or undefined. */
  async decrypt(event: Json & { room_id: string }): Promise<Json | undefined> {
    try {
      const d = await this.machine.decryptRoomEvent(JSON.stringify(event), new b.RoomId(event.room_id));
      return JSON.parse(d.event).content;
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.machine?.close();
  }
}
