// The set-up of an end-to-end test that starts its own bot on loopback: a fresh homeserver double and data directory
// before each test; after it, what the test started (the bot, an agent) is stopped, newest first, then the double.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { makeDataDir, removeDir, writeRegistration } from "./bot-harness";
import { startHomeserver, type Homeserver } from "./homeserver";

export interface LoopbackWorld {
  readonly hs: Homeserver;
  readonly dataDir: string;
  /** Stops `thing` (with `stop`) after the test, before the homeserver closes; returns it. */
  track<T>(thing: T, stop: (thing: T) => Promise<unknown>): T;
}

export function useLoopbackWorld(): LoopbackWorld {
  let hs: Homeserver | undefined;
  let dataDir = "";
  let stops: Array<() => Promise<unknown>> = [];
  beforeEach(async () => {
    hs = await startHomeserver({ serverName: "localhost" });
    dataDir = makeDataDir();
  });
  afterEach(async () => {
    for (const stop of stops.reverse()) await stop();
    stops = [];
    await hs?.close();
    hs = undefined;
    removeDir(dataDir);
  });
  return {
    get hs(): Homeserver {
      if (!hs) throw new Error("the homeserver double starts before each test");
      return hs;
    },
    get dataDir(): string {
      return dataDir;
    },
    track(thing, stop) {
      stops.push(() => stop(thing));
      return thing;
    },
  };
}

/**
 * The bot registered as an appservice on the double (listening on `port`, registration in the data dir), and alice's
 * room with the bot's user joined.
 */
export function appserviceRoom(world: LoopbackWorld, port: number): { reg: ReturnType<typeof writeRegistration>;
  alice: ReturnType<Homeserver["addUser"]>; roomId: string; senderUserId: string } {
  const { hs } = world;
  const reg = writeRegistration(world.dataDir, { port });
  const botUser = hs.addUser("agentbot");
  const alice = hs.addUser("alice");
  const roomId = hs.createRoom(alice.userId, { invite: [botUser.userId] });
  hs.join(botUser.userId, roomId);
  const { senderUserId } = hs.addAppservice(parse(readFileSync(reg.path, "utf8")));
  return { reg, alice, roomId, senderUserId };
}
