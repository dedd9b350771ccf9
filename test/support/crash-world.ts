// The world of the crash tests: a fresh homeserver double and data dir per test, the built bot as child
// processes (client or appservice mode) on that data, all stopped and removed after each test. A test starts
// a first bot with MAB_TEST_CRASH_AT (it SIGKILLs itself there), then a second one on the same env.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { appserviceEnv, appserviceUrlOf, botEnv, ChildBot, makeDataDir, removeDir, writeRegistration } from "./bot-harness";
import { expectSteady, waitForBotSettled, type BotInbound } from "./bot-idle";
import { startHomeserver, type Homeserver } from "./homeserver";
import { freshStore, type BackendName, type TestStore } from "./backends";

export type CrashMode = "client" | "appservice";

export class CrashWorld {
  private current: { hs: Homeserver; dataDir: string; store: TestStore } | undefined;
  private readonly children: ChildBot[] = [];
  private appserviceId: string | undefined;

  /**
   * A world whose homeserver, data dir and store (on `backend`, default sqlite in the data dir) are made in
   * beforeEach and torn down in afterEach of the caller's block.
   */
  static use(backend: BackendName = "sqlite"): CrashWorld {
    const world = new CrashWorld();
    beforeEach(async () => {
      const dataDir = makeDataDir();
      world.current = { hs: await startHomeserver({ serverName: "localhost" }), dataDir, store: await freshStore(backend, dataDir) };
    });
    afterEach(async () => {
      for (const child of world.children.splice(0)) await child.stop();
      await world.current?.hs.close();
      if (world.current) removeDir(world.current.dataDir);
      await world.current?.store.drop();
      world.current = undefined;
      world.appserviceId = undefined;
    });
    return world;
  }

  get hs(): Homeserver {
    return this.now().hs;
  }

  private now(): { hs: Homeserver; dataDir: string; store: TestStore } {
    if (!this.current) throw new Error("the crash world exists only during a test");
    return this.current;
  }

  /** The bot's user on the homeserver, how it receives events, and its environment in `mode`, with `extra` variables. */
  async setUp(mode: CrashMode, more?: Record<string, string>): Promise<{ env: Record<string, string>; botUserId: string; inbound: BotInbound }> {
    const { hs, dataDir, store } = this.now();
    const extra = { STORE_URL: store.url, ...more };
    if (mode === "client") {
      const bot = hs.addUser("bot", { displayName: "Agent Bot" });
      return { env: botEnv({ homeserverUrl: hs.url, accessToken: bot.accessToken, dataDir, extra }), botUserId: bot.userId,
        inbound: { syncUserId: bot.userId } };
    }
    // Each bot listens where the OS says (port 0); startBot moves the registration there.
    const reg = writeRegistration(dataDir, { port: 0 });
    const { id, senderUserId } = hs.addAppservice(parse(readFileSync(reg.path, "utf8")));
    this.appserviceId = id;
    return { env: appserviceEnv({ homeserverUrl: hs.url, registrationPath: reg.path, dataDir, extra }), botUserId: senderUserId,
      inbound: { appserviceId: id } };
  }

  /** "Exactly once" on a child bot: once it settled, `check`; after a short extra window and settling again, `check` again. */
  async expectSteady(bot: ChildBot, inbound: BotInbound, check: () => void): Promise<void> {
    await expectSteady(() => waitForBotSettled(this.hs, inbound, bot), check);
  }

  /**
   * Starts the bot as a child process on `env` (stopped after the test) and waits for its ready line; in appservice
   * mode the homeserver pushes to wherever it listens from then on.
   */
  async startBot(env: Record<string, string>): Promise<ChildBot> {
    const child = new ChildBot(env);
    this.children.push(child);
    await child.ready();
    if (this.appserviceId !== undefined) this.hs.moveAppservice(this.appserviceId, appserviceUrlOf(child));
    return child;
  }
}
