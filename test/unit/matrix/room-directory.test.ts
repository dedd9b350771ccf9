// Whether a room is a DM decides whether a message is answered: a transient homeserver failure while fetching the
// members must be retried and, if it persists, thrown, never read as "not a DM" (the message would be dropped).
import pino from "pino";
import { MatrixRequestError } from "../../../src/matrix/errors";
import type { MatrixHttp } from "../../../src/matrix/http";
import { RoomDirectory } from "../../../src/matrix/room-directory";
import { waitFor } from "../../support/wait";

const BOT = "@bot:example.org";
const ROOM = "!dm:example.org";
const members = { joined: { [BOT]: { display_name: "Bot" }, "@alice:example.org": { display_name: "Alice" } } };

/** A homeserver that answers joined_members with the scripted outcomes, then with the members. */
function http(outcomes: Array<MatrixRequestError | "ok">): MatrixHttp & { calls: number } {
  const fake = {
    calls: 0,
    async request<T>(): Promise<T> {
      const outcome = outcomes[fake.calls++] ?? "ok";
      if (outcome !== "ok") throw outcome;
      return members as T;
    },
  };
  return fake;
}

const server = (): MatrixRequestError => new MatrixRequestError("server", 502, undefined, "GET joined_members: HTTP 502", undefined);
const limited = (): MatrixRequestError => new MatrixRequestError("rate_limited", 429, "M_LIMIT_EXCEEDED", "slow down", 5);
const forbidden = (): MatrixRequestError => new MatrixRequestError("forbidden", 403, "M_FORBIDDEN", "not in room", undefined);
const options = { memberFetchAttempts: 4, retryBaseMs: 1, retryMaxMs: 5 };

describe("RoomDirectory.isDirect", () => {
  it("retries transient failures (5xx, 429) and then knows the room is a DM", async () => {
    const hs = http([server(), limited(), server()]);
    const directory = new RoomDirectory(hs, BOT, pino({ level: "silent" }), options);
    await expect(directory.isDirect(ROOM)).resolves.toBe(true);
    expect(hs.calls).toBe(4);
    await expect(directory.isDirect(ROOM)).resolves.toBe(true);
    expect(hs.calls).toBe(4); // loaded once
  });

  it("throws when the homeserver keeps failing, instead of guessing 'not a DM'", async () => {
    const hs = http([server(), server(), server(), server(), server()]);
    const directory = new RoomDirectory(hs, BOT, pino({ level: "silent" }), options);
    await expect(directory.isDirect(ROOM)).rejects.toMatchObject({ kind: "server" });
    expect(hs.calls).toBe(4);
    await expect(directory.isDirect(ROOM)).resolves.toBe(true); // the next attempt finds the members
  });

  it("stop() ends a retry wait at once: the look-up fails with the last error instead of waiting out its backoff", async () => {
    const hs = http([new MatrixRequestError("rate_limited", 429, "M_LIMIT_EXCEEDED", "slow down", 3_600_000)]);
    const directory = new RoomDirectory(hs, BOT, pino({ level: "silent" }), options);
    const lookup = directory.isDirect(ROOM);
    await waitFor(() => hs.calls === 1, { what: "the first look-up" });
    directory.stop();
    await expect(lookup).rejects.toMatchObject({ kind: "rate_limited" });
    expect(hs.calls).toBe(1);
  });

  it("a permanent failure (not in the room) is not retried and reads as not a DM", async () => {
    const hs = http([forbidden()]);
    const directory = new RoomDirectory(hs, BOT, pino({ level: "silent" }), options);
    await expect(directory.isDirect(ROOM)).resolves.toBe(false);
    expect(hs.calls).toBe(1);
  });

  it("a DM is exactly one joined person besides the bot's own users, and an allowed one; is_direct grants nothing", async () => {
    const withMembers = (joined: string[]): MatrixHttp => ({
      async request<T>(): Promise<T> {
        return { joined: Object.fromEntries(joined.map((u) => [u, {}])) } as T;
      },
    });
    const opts = { ...options, isAllowedUser: (u: string) => u.startsWith("@alice"), isOwnUser: (u: string) => u.startsWith("@_bridge_") };
    const dm = (joined: string[]): Promise<boolean> => new RoomDirectory(withMembers(joined), BOT, pino({ level: "silent" }), opts).isDirect(ROOM);
    await expect(dm([BOT, "@alice:example.org"])).resolves.toBe(true);
    await expect(dm([BOT, "@alice:example.org", "@_bridge_x:example.org"])).resolves.toBe(true); // the bot's own users aside
    await expect(dm([BOT, "@alice:example.org", "@bob:example.org"])).resolves.toBe(false);
    await expect(dm([BOT, "@mallory:example.org"])).resolves.toBe(false); // not an allowed user
    await expect(dm(["@alice:example.org", "@bob:example.org"])).resolves.toBe(false); // the bot is not there

    const flagged = new RoomDirectory(withMembers([BOT, "@alice:example.org", "@bob:example.org"]), BOT, pino({ level: "silent" }), opts);
    flagged.observe({ type: "m.room.member", state_key: BOT, sender: "@alice:example.org", room_id: ROOM, event_id: "$i",
      origin_server_ts: 0, content: { membership: "join", is_direct: true } });
    await expect(flagged.isDirect(ROOM)).resolves.toBe(false);
  });

  it("a display name is cosmetic: one try, never throws", async () => {
    const hs = http([server()]);
    const directory = new RoomDirectory(hs, BOT, pino({ level: "silent" }), options);
    await expect(directory.displayName(ROOM, "@alice:example.org")).resolves.toBeUndefined();
    expect(hs.calls).toBe(1);
    await expect(directory.displayName(ROOM, "@alice:example.org")).resolves.toBe("Alice");
  });
});

describe("RoomDirectory.isJoined", () => {
  it("is the members' word: joined when the bot is among them, not for a room the homeserver refuses", async () => {
    const directory = new RoomDirectory(http([]), BOT, pino({ level: "silent" }), options);
    await expect(directory.isJoined(ROOM)).resolves.toBe(true);
    const refused = new RoomDirectory(http([forbidden()]), BOT, pino({ level: "silent" }), options);
    await expect(refused.isJoined("!elsewhere:example.org")).resolves.toBe(false);
  });

  it("follows the bot's own membership events", async () => {
    const hs = http([]);
    const directory = new RoomDirectory(hs, BOT, pino({ level: "silent" }), options);
    const member = (membership: string) => ({ event_id: `$${membership}`, room_id: ROOM, sender: BOT, type: "m.room.member",
      state_key: BOT, content: { membership } });
    directory.observe(member("join"));
    await expect(directory.isJoined(ROOM)).resolves.toBe(true);
    expect(hs.calls).toBe(0);
    directory.observe(member("leave"));
    await expect(directory.isJoined(ROOM)).resolves.toBe(true); // members not loaded yet: asks the homeserver
    expect(hs.calls).toBe(1);
  });
});

describe("RoomDirectory memory", () => {
  /** A homeserver whose rooms are all DMs of the bot with Alice; counts the look-ups per room. */
  function dmServer(): MatrixHttp & { lookups: Map<string, number> } {
    const lookups = new Map<string, number>();
    return {
      lookups,
      async request<T>(_method: string, path: string): Promise<T> {
        const room = decodeURIComponent(/rooms\/([^/]+)\//.exec(path)?.[1] ?? "");
        lookups.set(room, (lookups.get(room) ?? 0) + 1);
        return members as T;
      },
    };
  }

  it("keeps at most cacheSize rooms: a room dropped from memory is looked up again and still reads as a joined DM", async () => {
    const hs = dmServer();
    const directory = new RoomDirectory(hs, BOT, pino({ level: "silent" }), { ...options, cacheSize: 2 });
    for (const room of ["!a:x", "!b:x", "!c:x"]) await expect(directory.isDirect(room)).resolves.toBe(true);
    expect(hs.lookups.get("!a:x")).toBe(1);
    // !a:x was the least recently used: dropped when !c:x came.
    await expect(directory.isJoined("!a:x")).resolves.toBe(true);
    await expect(directory.isDirect("!a:x")).resolves.toBe(true);
    await expect(directory.displayName("!a:x", "@alice:example.org")).resolves.toBe("Alice");
    expect(hs.lookups.get("!a:x")).toBe(2);
    // !c:x, used lately, is still known: no look-up.
    await expect(directory.isDirect("!c:x")).resolves.toBe(true);
    expect(hs.lookups.get("!c:x")).toBe(1);
  });

  it("a room dropped from memory follows membership events again: a third member makes it no DM", async () => {
    const hs = dmServer();
    const directory = new RoomDirectory(hs, BOT, pino({ level: "silent" }), { ...options, cacheSize: 1 });
    await expect(directory.isDirect("!a:x")).resolves.toBe(true);
    await expect(directory.isDirect("!b:x")).resolves.toBe(true); // !a:x dropped
    directory.observe({ room_id: "!b:x", type: "m.room.member", state_key: "@carol:example.org", sender: "@carol:example.org",
      event_id: "$j", origin_server_ts: 1, content: { membership: "join" } });
    await expect(directory.isDirect("!b:x")).resolves.toBe(false);
    await expect(directory.isDirect("!a:x")).resolves.toBe(true);
  });
});
