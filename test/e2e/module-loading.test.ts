// A bot with a WebSocket agent on SQLite does not load the modules only other setups call: the HTTP agent transport
// (@ag-ui/client), the reference agent (openai, the MCP client) and the Redis lease client are ~25 MB of RSS it would
// carry for nothing (bench/README.md, "Memory and fan-out"). Loaded from dist/, as `npm start` does.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { ROOT } from "../support/bot-harness";

const OPTIONAL = ["@ag-ui/client", "openai", "@modelcontextprotocol/sdk", "@keyv/redis"];

function packagesLoadedBy(script: string): string[] {
  const out = execFileSync(process.execPath, ["-e", `${script};
    const names = Object.keys(require.cache).filter((k) => k.includes("/node_modules/"))
      .map((k) => k.split("/node_modules/").pop().split("/")).map((p) => (p[0].startsWith("@") ? p[0] + "/" + p[1] : p[0]));
    process.stdout.write(JSON.stringify([...new Set(names)]));`], { cwd: ROOT, encoding: "utf8" });
  return JSON.parse(out) as string[];
}

describe("modules loaded at start", () => {
  it("the app does not load the HTTP agent transport, the reference agent or the Redis client until configured", () => {
    const loaded = packagesLoadedBy(`require(${JSON.stringify(path.join(ROOT, "dist", "src", "app"))})`);
    expect(loaded).toContain("matrix-bot-sdk"); // the probe sees what the app loads
    for (const pkg of OPTIONAL) expect(loaded).not.toContain(pkg);
  });

  it("each is still there when asked for", () => {
    const loaded = packagesLoadedBy(["transports/http", "../reference-agent/from-config"].map((m) =>
      `require(${JSON.stringify(path.join(ROOT, "dist", "src", "agent", m))})`).join(";") +
      // The Redis client is loaded when a connection is made (never connected here: nothing listens on port 1).
      `;new (require(${JSON.stringify(path.join(ROOT, "dist", "src", "lease", "native-clients"))}).RedisConnection)("redis://127.0.0.1:1", 100, () => {})`);
    for (const pkg of OPTIONAL) expect(loaded).toContain(pkg);
  });
});
