// A real encrypting Matrix client for end-to-end tests: matrix-js-sdk with its Rust crypto (initRustCrypto,
// in-memory crypto store), run as its own node process because matrix-js-sdk 34 is ESM-only and jest here is
// CommonJS. Controlled over stdin/stdout with JSON lines: `{"id":1,"cmd":"start","args":{...}}` in,
// `@@peer {"id":1,"ok":true,"result":...}` out. Everything the SDK logs goes to stderr.
import { createInterface } from "node:readline";

const PREFIX = "@@peer ";
for (const method of ["log", "info", "debug", "warn", "error", "trace"]) {
  console[method] = (...args) => process.stderr.write(`${args.map((a) => (a instanceof Error ? a.stack : String(a))).join(" ")}\n`);
}
const sdk = await import("matrix-js-sdk");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
const attachments = await import("matrix-encrypt-attachment");
const encryptAttachment = attachments.encryptAttachment ?? attachments.default.encryptAttachment;
logger.setLevel(process.env.PEER_LOG_LEVEL ?? "warn");

/** @type {import("matrix-js-sdk").MatrixClient | undefined} */
let client;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** TEST_TIME_SCALE scales the default deadline, as in test/support/wait.ts (the caller scales the ones it passes). */
const DEFAULT_WAIT_MS = 20_000 * (Number(process.env.TEST_TIME_SCALE) > 0 ? Number(process.env.TEST_TIME_SCALE) : 1);

async function waitUntil(probe, what, timeoutMs = DEFAULT_WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function need() {
  if (!client) throw new Error("start first");
  return client;
}

const commands = {
  /**
   * Signs in with the given token and device, sets up Rust crypto (unless `crypto: false`), syncs until PREPARED.
   * `timelineLimit`: a sync filter keeping that many timeline events per room and sync (a busy room then shows
   * no gap in the live timeline).
   */
  async start({ baseUrl, userId, accessToken, deviceId, crypto = true, pollTimeout = 200, timelineLimit }) {
    client = sdk.createClient({ baseUrl, userId, accessToken, deviceId, timelineSupport: true });
    if (crypto) await client.initRustCrypto({ useIndexedDB: false });
    const prepared = new Promise((resolve) => {
      const onSync = (state) => {
        if (state === sdk.SyncState.Prepared || state === sdk.SyncState.Syncing) {
          client.off(sdk.ClientEvent.Sync, onSync);
          resolve();
        }
      };
      client.on(sdk.ClientEvent.Sync, onSync);
    });
    let filter;
    if (timelineLimit !== undefined) {
      filter = new sdk.Filter(userId);
      filter.setDefinition({ room: { timeline: { limit: timelineLimit } } });
    }
    await client.startClient({ initialSyncLimit: 20, pollTimeout, ...(filter ? { filter } : {}) });
    await prepared;
    if (!crypto) return { deviceId: client.getDeviceId() };
    const keys = await client.getCrypto().getOwnDeviceKeys();
    return { deviceId: client.getDeviceId(), curve25519: keys.curve25519 };
  },

  /** POST /createRoom with this body; resolves once this client has the room. */
  async createRoom({ body }) {
    const c = need();
    const { room_id: roomId } = await c.createRoom(body);
    await waitUntil(() => c.getRoom(roomId), "the new room in the client");
    return { roomId };
  },

  async invite({ roomId, userId }) {
    await need().invite(roomId, userId);
    return {};
  },

  /** Joins; resolves once this client shows the room joined. */
  async join({ roomIdOrAlias, via = [] }) {
    const c = need();
    const room = await c.joinRoom(roomIdOrAlias, { viaServers: via });
    await waitUntil(() => c.getRoom(room.roomId)?.getMyMembership() === "join", "the joined room in the client");
    return { roomId: room.roomId };
  },

  /** Any room event (a message with mentions, a reply, …); encrypted in an encrypted room. */
  async sendContent({ roomId, type = "m.room.message", content }) {
    const { event_id: eventId } = await need().sendEvent(roomId, type, content);
    return { eventId };
  },

  async sendState({ roomId, type, stateKey = "", content }) {
    const { event_id: eventId } = await need().sendStateEvent(roomId, type, content, stateKey);
    return { eventId };
  },

  /**
   * Sends `body` and waits until this client's timeline shows a message from `from` that reads `expect` written to
   * its end: an event with that body, or an edit (m.replace) to it, without `liveMarker` (a live answer, MSC4357,
   * is written by edits). Returns the milliseconds from just before the send to that moment.
   */
  async timedTurn({ roomId, body, from, expect, liveMarker, timeoutMs = 30_000 }) {
    const c = need();
    let seen;
    const arrived = new Promise((resolve) => (seen = resolve));
    const onTimeline = (event, room) => {
      if (room?.roomId !== roomId || event.getSender() !== from || event.getType() !== "m.room.message") return;
      const content = event.getOriginalContent();
      const written = content["m.relates_to"]?.rel_type === "m.replace" ? content["m.new_content"] : content;
      if (written?.body === expect && !(liveMarker in written)) seen();
    };
    c.on(sdk.RoomEvent.Timeline, onTimeline);
    const started = performance.now();
    try {
      const { event_id: eventId } = await c.sendTextMessage(roomId, body);
      let timer;
      const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer "${expect}" within ${timeoutMs} ms`)), timeoutMs)));
      await Promise.race([arrived, late]).finally(() => clearTimeout(timer));
      return { eventId, ms: performance.now() - started };
    } finally {
      c.off(sdk.RoomEvent.Timeline, onTimeline);
    }
  },

  /** Creates a room with m.room.encryption in its initial state; resolves once this client has the room. */
  async createEncryptedRoom({ invite = [], isDirect = false }) {
    const c = need();
    const { room_id: roomId } = await c.createRoom({
      invite, is_direct: isDirect, preset: isDirect ? "trusted_private_chat" : "private_chat",
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await waitUntil(() => c.getRoom(roomId), "the new room in the client");
    return { roomId };
  },

  /** Waits until this client's view of the room shows `userId` with `membership`. */
  async waitMember({ roomId, userId, membership = "join", timeoutMs }) {
    const c = need();
    await waitUntil(() => c.getRoom(roomId)?.getMember(userId)?.membership === membership, `${userId} ${membership} in ${roomId}`, timeoutMs);
    return {};
  },

  /** Sends a text message; the SDK encrypts it because the room is encrypted. */
  async send({ roomId, body }) {
    const { event_id: eventId } = await need().sendTextMessage(roomId, body);
    return { eventId };
  },

  /**
   * Sends a file as Element does in an encrypted room: encrypted with matrix-encrypt-attachment (AES-256-CTR, SHA-256
   * of the ciphertext), the ciphertext uploaded, the event's `file` carrying key, iv and hash. `tamper`: one byte of
   * the uploaded ciphertext changed after hashing (altered on the way).
   */
  async sendEncryptedFile({ roomId, msgtype, filename, mimetype, data, caption, tamper = false }) {
    const c = need();
    const plain = Buffer.from(data, "base64");
    const { data: encrypted, info } = await encryptAttachment(plain.buffer.slice(plain.byteOffset, plain.byteOffset + plain.length));
    const ciphertext = Buffer.from(encrypted);
    if (tamper) ciphertext[ciphertext.length >> 1] ^= 1;
    const { content_uri: url } = await c.uploadContent(ciphertext, { type: "application/octet-stream", name: filename, includeFilename: false });
    const content = { msgtype, body: caption ?? filename, filename, info: { mimetype, size: plain.length }, file: { ...info, url } };
    const { event_id: eventId } = await c.sendMessage(roomId, content);
    return { eventId };
  },

  /** Sends a file as Element does in a room without encryption: the bytes uploaded as they are, the event's `url`. */
  async sendFile({ roomId, msgtype, filename, mimetype, data, caption }) {
    const c = need();
    const bytes = Buffer.from(data, "base64");
    const { content_uri: url } = await c.uploadContent(bytes, { type: mimetype, name: filename });
    const content = { msgtype, body: caption ?? filename, filename, info: { mimetype, size: bytes.length }, url };
    const { event_id: eventId } = await c.sendMessage(roomId, content);
    return { eventId, url };
  },

  /** true: room keys go only to verified devices (the bot's device is not verified), i.e. it cannot decrypt. */
  async onlyVerifiedDevices({ on }) {
    need().getCrypto().globalBlacklistUnverifiedDevices = on;
    return {};
  },

  /** Starts a new outbound Megolm session in the room with the next message (its key goes to the devices known then). */
  async discardSession({ roomId }) {
    await need().getCrypto().forceDiscardSession(roomId);
    return {};
  },

  /**
   * What this client says of another device (the shield a person sees), from the keys its crypto tracks: the user
   * must share an encrypted room with this client (an untracked user's keys are fetched but not checked).
   */
  async deviceTrust({ userId, deviceId }) {
    const crypto = need().getCrypto();
    const devices = await crypto.getUserDeviceInfo([userId]);
    const status = await crypto.getDeviceVerificationStatus(userId, deviceId);
    return { known: devices.get(userId)?.has(deviceId) ?? false, signedByOwner: status?.signedByOwner ?? false,
      crossSigningVerified: status?.crossSigningVerified ?? false };
  },

  /** The room's timeline as this client shows it, each event decrypted where possible. */
  async messages({ roomId }) {
    const c = need();
    const room = c.getRoom(roomId);
    if (!room) return { messages: [] };
    return { messages: await describeAll(room.getLiveTimeline().getEvents()) };
  },

  /**
   * The room's polls as matrix-js-sdk's own poll support holds them (Room.polls: built from the decrypted start event,
   * ended by a valid decrypted end event), as Element reads them.
   */
  async polls({ roomId }) {
    const room = need().getRoom(roomId);
    if (!room) return { polls: [] };
    return { polls: [...room.polls.values()].map((poll) => ({
      pollId: poll.pollId, sender: poll.rootEvent.getSender(), encrypted: poll.rootEvent.isEncrypted(),
      question: poll.pollEvent.question.text, kind: poll.pollEvent.kind.name, maxSelections: poll.pollEvent.maxSelections,
      answers: poll.pollEvent.answers.map((a) => ({ id: a.id, text: a.text })),
      ended: poll.isEnded, endEncrypted: poll.endEvent?.isEncrypted() ?? false,
      endText: poll.endEvent?.unstableExtensibleEvent?.closingMessage?.text,
    })) };
  },

  /** The room's whole history as the homeserver serves it (GET /messages, every page), oldest first, decrypted. */
  async history({ roomId }) {
    const c = need();
    const mapper = c.getEventMapper();
    const raw = [];
    for (let from = null; ;) {
      const page = await c.createMessagesRequest(roomId, from, 100, sdk.Direction.Backward);
      raw.push(...page.chunk);
      if (!page.end || page.chunk.length === 0) break;
      from = page.end;
    }
    return { messages: await describeAll(raw.reverse().map((e) => mapper({ ...e, room_id: roomId }))) };
  },

  async stop() {
    client?.stopClient();
    await client?.getCrypto()?.stop?.();
    setTimeout(() => process.exit(0), 10).unref();
    return {};
  },
};

/** Messages (state events left out) as the tests read them. */
async function describeAll(events) {
  const out = [];
  for (const event of events) {
    if (event.isState()) continue;
    if (event.isEncrypted()) await need().decryptEventIfNeeded(event);
    out.push({
      eventId: event.getId(), sender: event.getSender(), wireType: event.getWireType(), type: event.getType(),
      encrypted: event.isEncrypted(), decryptionFailure: event.isDecryptionFailure(),
      content: event.getContent(),
      originalContent: event.getOriginalContent(),
    });
  }
  return out;
}

function reply(message) {
  process.stdout.write(`${PREFIX}${JSON.stringify(message)}\n`);
}

process.on("unhandledRejection", (e) => process.stderr.write(`peer unhandledRejection: ${e?.stack ?? e}\n`));

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    return;
  }
  const run = commands[request.cmd];
  if (!run) return reply({ id: request.id, ok: false, error: `unknown command ${request.cmd}` });
  run(request.args ?? {}).then(
    (result) => reply({ id: request.id, ok: true, result }),
    (e) => reply({ id: request.id, ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }),
  );
});
lines.on("close", () => process.exit(0));
