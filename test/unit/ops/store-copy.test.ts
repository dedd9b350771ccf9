// store-copy moves the bot's state to another store: every namespace reads back the same through openStore,
// and a target that already holds records is left alone unless --force.
import path from "node:path";
import pino from "pino";
import { openStore } from "../../../src/store";
import { makeDataDir, removeDir } from "../../support/bot-harness";
import { expectNoSecrets, runCli } from "./support";

describe("store-copy", () => {
  let dir: string;
  beforeEach(() => {
    dir = makeDataDir();
  });
  afterEach(() => removeDir(dir));

  it("copies every record so that the bot reads the same state from the new store", async () => {
    const log = pino({ level: "silent" });
    const source = await openStore(`sqlite://${path.join(dir, "bot.sqlite")}`, { logger: log });
    await source.namespace<{ on: boolean }>("settings").set("!room:example.org", { on: true });
    await source.namespace<string>("sync").set("next_batch", "s72594_4483_1934");
    for (let i = 0; i < 25; i += 1) await source.namespace<number>("journal-pending").set(`$event${i}`, i);
    await source.close();

    const run = await runCli("store-copy", ["--from", "sqlite://bot.sqlite", "--to", "sqlite://copy/bot.sqlite"], { cwd: dir });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Copied 27 records");

    const copy = await openStore(`sqlite://${path.join(dir, "copy", "bot.sqlite")}`, { logger: log });
    expect(await copy.namespace<{ on: boolean }>("settings").get("!room:example.org")).toEqual({ on: true });
    expect(await copy.namespace<string>("sync").get("next_batch")).toBe("s72594_4483_1934");
    expect(await copy.namespace<number>("journal-pending").get("$event24")).toBe(24);
    await copy.healthCheck();
    await copy.close();

    const again = await runCli("store-copy", ["--from", "sqlite://bot.sqlite", "--to", "sqlite://copy/bot.sqlite"], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already holds records");
    const forced = await runCli("store-copy", ["--from", "sqlite://bot.sqlite", "--to", "sqlite://copy/bot.sqlite", "--force"], { cwd: dir });
    expect(forced.code).toBe(0);
  });

  it("says why a store cannot be reached without printing the password", async () => {
    const log = pino({ level: "silent" });
    await (await openStore(`sqlite://${path.join(dir, "bot.sqlite")}`, { logger: log })).close();
    const run = await runCli("store-copy", ["--from", "sqlite://bot.sqlite", "--to", "postgres://bot:pg-secret-9@127.0.0.1:1/bot"], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/store-copy: .*ECONNREFUSED 127\.0\.0\.1:1/);
    expectNoSecrets(run, ["pg-secret-9"]);
    const missing = await runCli("store-copy", ["--from", "sqlite://nothing.sqlite", "--to", "sqlite://x.sqlite"], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("there is no sqlite store at");
    const usage = await runCli("store-copy", ["--from", "sqlite://bot.sqlite"], { cwd: dir });
    expect(usage.code).toBe(2);
  });
});
