// The bot process applies its garbage collection settings at start (src/util/gc-settings.ts): V8's heap growth factor
// unless node's command line gives one, and the idle collector with its window. Their effect on memory and CPU is
// measured by the bench (bench/README.md, "GC and the heap bound (session 38)"); here: that the running bot uses them.
import { startHomeserver, type Homeserver } from "../support/homeserver";
import { botEnv, ChildBot, makeDataDir, removeDir } from "../support/bot-harness";
import type { LogLine } from "../support/log-capture";

const SETTINGS = "V8 heap growth and idle collection";

describe("garbage collection settings of the bot process", () => {
  let hs: Homeserver;
  let dataDir: string;
  beforeEach(async () => {
    hs = await startHomeserver();
    dataDir = makeDataDir();
  });
  afterEach(async () => {
    await hs.close();
    removeDir(dataDir);
  });

  async function settingsOf(nodeArgs: string[]): Promise<LogLine> {
    const account = hs.addUser("bot");
    const bot = new ChildBot(botEnv({ homeserverUrl: hs.url, accessToken: account.accessToken, dataDir }), [], { nodeArgs });
    try {
      return await bot.logs.waitFor((l) => l.msg === SETTINGS, "the bot's GC settings line");
    } finally {
      await bot.stop();
    }
  }

  it("bounds the heap's growth and starts the idle collector with a one-second window", async () => {
    // The settings kept in session 38 (bench/README.md, "GC and the heap bound (session 38)").
    const line = await settingsOf([]);
    expect(line).toMatchObject({ heapGrowingPercent: 50, collecting: true, idleWindowMs: 1000, idleUtilization: 0.05, settleMs: 6000,
      growthMb: 32, slackMb: 16 });
  });

  it("leaves a heap growth factor given on node's command line as it is", async () => {
    const line = await settingsOf(["--heap-growing-percent=0"]);
    expect(line).toMatchObject({ heapGrowingPercent: "node's command line", collecting: true });
  });
});
