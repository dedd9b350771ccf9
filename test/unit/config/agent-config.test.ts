import * as path from "node:path";
import { loadAgentConfig, type AgentConfig, type AgentConfigResult } from "../../../src/reference-agent/config";

function expectOk(result: AgentConfigResult): AgentConfig {
  if (!result.ok) throw new Error(`expected a valid configuration, got:\n${result.message}`);
  return result.config;
}

describe("loadAgentConfig", () => {
  it("defaults to an echo agent on 127.0.0.1:8790", () => {
    const config = expectOk(loadAgentConfig({}));
    expect(config).toEqual({
      host: "127.0.0.1",
      port: 8790,
      dataDir: path.resolve("./data"),
      logLevel: "info",
      maxFrameBytes: 1_048_576,
      llm: { timeoutMs: 45_000, historyMaxChars: 32_000, historyTtlDays: 30, maxToolRounds: 8, vision: false, fileMaxChars: 20_000 },
      mcp: { servers: {}, allow: [], requireApproval: [], timeoutMs: 60_000 },
      proactive: { noopMarker: "[[nothing]]" },
      secrets: [],
    });
  });

  it("reads the LLM settings and lists its secrets", () => {
    const config = expectOk(
      loadAgentConfig({
        AGENT_HOST: "127.0.0.1",
        AGENT_PORT: "0",
        AGENT_TOKEN: "agent-secret",
        LLM_BASE_URL: "https://llm.example.org/v1/",
        LLM_MODEL: "small-model",
        LLM_API_KEY: "sk-123",
        LLM_SYSTEM_PROMPT: "Be brief.",
        LLM_VISION: "true",
        LLM_TRANSCRIBE_MODEL: "whisper-1",
        LLM_FILE_MAX_CHARS: "5000",
        PROACTIVE_SCHEDULE: "0 9 * * *",
        PROACTIVE_PROMPT: "Say good morning.",
      }),
    );
    expect(config.port).toBe(0);
    expect(config.token).toBe("agent-secret");
    expect(config.llm).toEqual({
      baseUrl: "https://llm.example.org/v1",
      model: "small-model",
      apiKey: "sk-123",
      systemPrompt: "Be brief.",
      timeoutMs: 45_000,
      historyMaxChars: 32_000,
      historyTtlDays: 30,
      maxToolRounds: 8,
      vision: true,
      transcribeModel: "whisper-1",
      fileMaxChars: 5_000,
    });
    expect(config.proactive).toEqual({ schedule: "0 9 * * *", prompt: "Say good morning.", noopMarker: "[[nothing]]" });
    expect(new Set(config.secrets)).toEqual(new Set(["agent-secret", "sk-123"]));
  });

  it("refuses an LLM_VISION that is not a strict boolean", () => {
    const result = loadAgentConfig({ LLM_VISION: "yes" });
    expect(result.ok ? [] : result.problems.map((p) => p.variable)).toEqual(["LLM_VISION"]);
  });

  it("lists every problem: bad port, bad URL, missing model", () => {
    const result = loadAgentConfig({ AGENT_PORT: "http", LLM_BASE_URL: "llm.local", LOG_LEVEL: "chatty" });
    if (result.ok) throw new Error("expected problems");
    expect(result.problems.map((p) => p.variable)).toEqual(["AGENT_PORT", "LOG_LEVEL", "LLM_BASE_URL", "LLM_MODEL"]);
    expect(result.message).toMatch(/^matrix-agent-bot reference agent cannot start: the configuration has 4 problems:/);
    expect(result.message).toMatch(/LLM_MODEL: is not set, but LLM_BASE_URL is.*Fix: set LLM_MODEL/);
    expect(result.message).toMatch(/AGENT_PORT: "http" is not a port number/);
  });

  it("reads MCP servers (stdio and streamable HTTP), the allowed tools, and keeps header and env values as secrets", () => {
    const config = expectOk(loadAgentConfig({
      LLM_BASE_URL: "http://127.0.0.1:1/v1", LLM_MODEL: "m", LLM_MAX_TOOL_ROUNDS: "3", MCP_TIMEOUT_MS: "5000",
      MCP_SERVERS: JSON.stringify({ files: { command: "node", args: ["server.js"], env: { FILES_TOKEN: "files-secret" } },
        web: { url: "https://mcp.example.org/mcp", headers: { Authorization: "Bearer web-secret" } } }),
      MCP_TOOLS_ALLOW: "files.read_*, web.search",
    }));
    expect(config.llm.maxToolRounds).toBe(3);
    expect(config.mcp).toEqual({
      servers: { files: { command: "node", args: ["server.js"], env: { FILES_TOKEN: "files-secret" } },
        web: { url: "https://mcp.example.org/mcp", headers: { Authorization: "Bearer web-secret" } } },
      allow: ["files.read_*", "web.search"], requireApproval: [], timeoutMs: 5000,
    });
    expect(new Set(config.secrets)).toEqual(new Set(["files-secret", "Bearer web-secret"]));
  });

  it("reads LLM_TOOLS_REQUIRE_APPROVAL; unset MCP_TOOLS_ALLOW then offers the MCP tools that require approval", () => {
    const config = expectOk(loadAgentConfig({ LLM_BASE_URL: "http://127.0.0.1:1/v1", LLM_MODEL: "m",
      LLM_TOOLS_REQUIRE_APPROVAL: "calculator, mail.send_*" }));
    expect(config.mcp.requireApproval).toEqual(["calculator", "mail.send_*"]);
    expect(config.mcp.allow).toEqual(["mail.send_*"]);
    const listed = expectOk(loadAgentConfig({ LLM_BASE_URL: "http://127.0.0.1:1/v1", LLM_MODEL: "m",
      LLM_TOOLS_REQUIRE_APPROVAL: "mail.send_*", MCP_TOOLS_ALLOW: "files.read_*" }));
    expect(listed.mcp.allow).toEqual(["files.read_*"]);
  });

  it("says what is wrong with MCP settings, never quoting MCP_SERVERS (it may hold tokens)", () => {
    const result = loadAgentConfig({
      LLM_BASE_URL: "http://127.0.0.1:1/v1", LLM_MODEL: "m",
      MCP_SERVERS: JSON.stringify({ "bad name": { command: "x" }, web: { url: "ftp://x", headers: { a: "token-123" } }, both: {} }),
      MCP_TOOLS_ALLOW: "search",
    });
    if (result.ok) throw new Error("expected problems");
    expect(result.problems.map((p) => p.variable)).toEqual(["MCP_SERVERS", "MCP_TOOLS_ALLOW"]);
    expect(result.message).toMatch(/MCP_SERVERS: the value names a server "bad name": server names are letters/);
    expect(result.message).toMatch(/at web\.url: url must be an http\(s\) URL/);
    expect(result.message).toMatch(/at both: each server needs either command \(stdio\) or url \(streamable HTTP\)/);
    expect(result.message).not.toContain("token-123");
    expect(result.message).toMatch(/MCP_TOOLS_ALLOW: "search" contains "search", which is not <server>\.<tool>/);
    const echo = loadAgentConfig({ MCP_SERVERS: JSON.stringify({ t: { command: "x" } }) });
    expect(echo.ok ? [] : echo.problems.map((p) => p.problem)).toEqual([expect.stringMatching(/only a model calls tools/)]);
  });
});
