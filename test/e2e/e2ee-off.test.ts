// Until encryption is wired in, MATRIX_E2EE=true must not silently run without it: the bot refuses to start
// and says why (exit code 1, one fatal line).
import { botEnv, ChildBot, makeDataDir, removeDir } from "../support/bot-harness";
import { startHomeserver } from "../support/homeserver";

it("refuses MATRIX_E2EE=true with a clear reason instead of ignoring encryption", async () => {
  const hs = await startHomeserver();
  const dataDir = makeDataDir();
  try {
    const bot = hs.addUser("bot");
    const child = new ChildBot(botEnv({ homeserverUrl: hs.url, accessToken: bot.accessToken, dataDir, extra: { MATRIX_E2EE: "true" } }));
    expect((await child.exited).code).toBe(1);
    const fatal = child.logs.lines().find((l) => l.level === 60);
    expect(JSON.stringify(fatal)).toMatch(/MATRIX_E2EE=true.*MATRIX_E2EE=false/);
    await child.stop();
  } finally {
    await hs.close();
    removeDir(dataDir);
  }
});
