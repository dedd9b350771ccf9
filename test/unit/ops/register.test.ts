// `npm run register`: a registration the bot accepts in appservice mode, fresh tokens every time, never
// printed, a private file, and no silent overwrite.
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { loadConfig } from "../../../src/config";
import { makeDataDir, removeDir, ROOT } from "../../support/bot-harness";
import { expectNoSecrets, runCli } from "./support";

describe("npm run register", () => {
  let dir: string;
  beforeEach(() => {
    dir = makeDataDir();
  });
  afterEach(() => removeDir(dir));

  it("writes a registration that loadConfig accepts in appservice mode, and prints no token", async () => {
    const run = await runCli("register", ["--url", "http://bot:9999", "--localpart", "agentbot", "--server-name", "example.org",
      "--out", "reg.yaml"], { cwd: dir });
    expect(run.code).toBe(0);
    const file = path.join(dir, "reg.yaml");
    const loaded = loadConfig({ MATRIX_HOMESERVER_URL: "https://matrix.example.org", MATRIX_REGISTRATION: file, DATA_DIR: dir });
    if (!loaded.ok) throw new Error(loaded.message);
    const registration = loaded.config.registration;
    expect(loaded.config.mode).toBe("appservice");
    expect(registration?.sender_localpart).toBe("agentbot");
    expect(registration?.url).toBe("http://bot:9999");
    expect(registration?.namespaces.users).toEqual([
      { exclusive: true, regex: "@agentbot:example\\.org" },
      { exclusive: true, regex: "@agentbot_.*:example\\.org" },
    ]);
    // Applied as homeservers do (anchored at the start): the bot, its per-agent users, nobody else.
    const inNamespace = (userId: string): boolean => (registration?.namespaces.users ?? [])
      .some((ns) => new RegExp(`^(?:${ns.regex})`).test(userId));
    expect(inNamespace("@agentbot:example.org")).toBe(true);
    expect(inNamespace("@agentbot_research:example.org")).toBe(true);
    expect(inNamespace("@agentbot:exampleXorg")).toBe(false);
    expect(inNamespace("@agentbotx:example.org")).toBe(false);
    expect(inNamespace("@agentbot_research:exampleXorg")).toBe(false);
    expect(inNamespace("@alice:example.org")).toBe(false);
    // Appservice encryption: ephemeral events (unstable and stable name) and MSC3202 in transactions.
    expect(registration).toMatchObject({ "de.sorunome.msc2409.push_ephemeral": true, receive_ephemeral: true, "org.matrix.msc3202": true });

    const asToken = registration?.as_token ?? "";
    const hsToken = registration?.hs_token ?? "";
    expect(asToken).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(hsToken).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(asToken).not.toBe(hsToken);
    expectNoSecrets(run, [asToken, hsToken]);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // What the operator has to copy: the Synapse lines and the .env line.
    expect(run.stdout).toContain("app_service_config_files:");
    expect(run.stdout).toContain(`  - ${file}`);
    expect(run.stdout).toContain("experimental_features:\n  msc2409_to_device_messages_enabled: true\n  msc3202_device_masquerading: true\n  msc3202_transaction_extensions: true");
    expect(run.stdout).toContain(`MATRIX_REGISTRATION=${file}`);
    expect(run.stdout).toContain("APPSERVICE_BIND=0.0.0.0:9999");
    expect(run.stdout).toContain("@agentbot_*:example.org");
  });

  it("gives fresh tokens on every run and refuses to replace a file without --force", async () => {
    const first = await runCli("register", ["--server-name", "example.org", "--out", "a.yaml"], { cwd: dir });
    const second = await runCli("register", ["--server-name", "example.org", "--out", "b.yaml"], { cwd: dir });
    expect([first.code, second.code]).toEqual([0, 0]);
    const a = parse(readFileSync(path.join(dir, "a.yaml"), "utf8")) as { as_token: string; hs_token: string; url: string };
    const b = parse(readFileSync(path.join(dir, "b.yaml"), "utf8")) as { as_token: string; hs_token: string };
    expect(new Set([a.as_token, a.hs_token, b.as_token, b.hs_token]).size).toBe(4);
    expect(a.url).toBe("http://127.0.0.1:9999");
    expect(first.stdout).toContain("APPSERVICE_BIND=127.0.0.1:9999");

    const before = readFileSync(path.join(dir, "a.yaml"), "utf8");
    const again = await runCli("register", ["--server-name", "example.org", "--out", "a.yaml"], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already exists");
    expect(again.stderr).toContain("--force");
    expect(readFileSync(path.join(dir, "a.yaml"), "utf8")).toBe(before);

    const forced = await runCli("register", ["--server-name", "example.org", "--out", "a.yaml", "--force"], { cwd: dir });
    expect(forced.code).toBe(0);
    expect(readFileSync(path.join(dir, "a.yaml"), "utf8")).not.toBe(before);
  });

  it("explains a missing or invalid option and exits 2", async () => {
    const missing = await runCli("register", ["--out", "x.yaml"], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--server-name is required");
    expect(missing.stderr).toContain("Usage: npm run register");

    const bad = await runCli("register", ["--server-name", "example.org", "--localpart", "Agent Bot", "--url", "ftp://x"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--localpart");
    expect(bad.stderr).toContain("--url");

    const unknown = await runCli("register", ["--server-name", "example.org", "--frobnicate"], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--frobnicate");
  });

  it("writes the registration runbook/appservice-synapse.md shows, field for field (tokens aside)", async () => {
    const run = await runCli("register", ["--server-name", "example.org", "--out", "reg.yaml"], { cwd: dir });
    expect(run.code).toBe(0);
    const written = parse(readFileSync(path.join(dir, "reg.yaml"), "utf8")) as Record<string, unknown>;
    const page = readFileSync(path.join(ROOT, "runbook", "appservice-synapse.md"), "utf8");
    const block = /The file looks like this[^\n]*\n\n```yaml\n([\s\S]*?)\n```/.exec(page)?.[1];
    if (block === undefined) throw new Error("runbook/appservice-synapse.md shows no registration block");
    const shown = parse(block) as Record<string, unknown>;
    const withoutTokens = (r: Record<string, unknown>): Record<string, unknown> => ({ ...r, as_token: "…", hs_token: "…" });
    expect(withoutTokens(shown)).toEqual(withoutTokens(written));
  });
});
