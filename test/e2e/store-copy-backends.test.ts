// `npm run store-copy` between every pair of backends, from a store the bot just used: every live record arrives
// as it was (values with their expiry), and the bot started on the copy carries on: it does not answer again what
// it answered before the move, and answers what comes after.
import pino from "pino";
import type { KeyvStoreAdapter } from "keyv";
import { echoReplyFor } from "../../src/reference-agent/server";
import { createAdapter } from "../../src/store/adapters";
import { parseStoreUrl } from "../../src/store/store-url";
import { ALL_BACKENDS, describeEachE2eBackend, freshStore, itOnBackend, type TestStore } from "../support/backends";
import { Scenario } from "../support/scenario";
import { runCli } from "../unit/ops/support";

/** Every live (unexpired) record of a store, as stored: key → serialized value. */
async function liveRecords(url: string): Promise<Map<string, unknown>> {
  const adapter: KeyvStoreAdapter = await createAdapter(parseStoreUrl(url), { logger: pino({ level: "silent" }), sqliteBusyTimeoutMs: 5000 });
  try {
    const records = new Map<string, unknown>();
    for await (const [key, value] of adapter.iterator!(undefined)) records.set(String(key), value);
    return records;
  } finally {
    await adapter.disconnect?.();
  }
}

describeEachE2eBackend("store-copy from a store the bot just used", (from) => {
  let s: Scenario | undefined;
  let target: TestStore | undefined;
  afterEach(async () => {
    await s?.stop();
    await target?.drop();
    s = undefined;
    target = undefined;
  });

  it("refuses while a bot holds the store, as source or as target, and copies once it stopped", async () => {
    const world = (s = await Scenario.start({ mode: "client", backend: from }));
    target = await freshStore("sqlite");
    for (const args of [["--from", world.store.url, "--to", target.url], ["--from", target.url, "--to", world.store.url, "--force"]]) {
      const refused = await runCli("store-copy", args, { cwd: world.dataDir });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(new RegExp(`store-copy: a bot is using .* \\(pid ${process.pid} on .*\\): stop it first`));
    }
    await world.stopBot();
    expect((await runCli("store-copy", ["--from", world.store.url, "--to", target.url], { cwd: world.dataDir })).code).toBe(0);
  });

  for (const to of ALL_BACKENDS.filter((b) => b !== from)) {
    itOnBackend(to, `to ${to}: every live record copied as it was, and the bot carries on there`, async () => {
      const world = (s = await Scenario.start({ mode: "client", backend: from }));
      const dm = await world.openDm();
      await world.alice.sendText(dm, "before the move");
      await world.waitBotMessages(dm, 1, "the answer before the move");
      await world.stopBot();

      target = await freshStore(to);
      const run = await runCli("store-copy", ["--from", world.store.url, "--to", target.url], { cwd: world.dataDir });
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      const source = await liveRecords(world.store.url);
      expect([...source.keys()].some((k) => k.startsWith("journal:"))).toBe(true); // the bot's state, not an empty store
      expect(Object.fromEntries(await liveRecords(target.url))).toEqual(Object.fromEntries(source));

      world.setBotEnv("STORE_URL", target.url);
      await world.startBot();
      await world.alice.sendText(dm, "after the move");
      await world.waitBotMessages(dm, 2, "the answer after the move");
      await world.expectSteady(() => expect(world.botMessages(dm).map((e) => e.content["body"]))
        .toEqual([echoReplyFor("before the move"), echoReplyFor("after the move")]));
    });
  }
});
