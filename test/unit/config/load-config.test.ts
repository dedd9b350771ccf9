import * as path from "node:path";
import { loadConfig } from "../../../src/config";
import { clientEnv, expectOk, expectProblems, HS, lineAbout, NO_FILES } from "./config-helpers";

describe("loadConfig: defaults", () => {
  it("gives the documented defaults for a minimal client-mode environment", () => {
    const config = expectOk(loadConfig(clientEnv, NO_FILES));
    expect(config.homeserverUrl).toBe(HS);
    expect(config.mode).toBe("client");
    expect(config.accessToken).toBe("syt_client_token");
    expect(config.appserviceBind).toEqual({ host: "127.0.0.1", port: 9999 });
    expect(config.http).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(config.e2ee).toBe(false);
    expect(config.agent).toEqual({});
    expect(config.dataDir).toBe(path.resolve("./data"));
    expect(config.storeUrl).toBe(`sqlite://${path.resolve("./data", "bot.sqlite")}`);
    expect(config.allowedUsers).toBeUndefined();
    expect(config.botAdmins).toEqual([]);
    expect(config.adminRoom).toBeUndefined();
    expect(config.logLevel).toBe("info");
    expect(config.spacesFollowChildren).toBe(true);
    expect(config.provisionSpace).toBe(false);
    expect(config.streaming).toBe("edits");
    expect(config.timings).toEqual({
      syncTimeoutMs: 30000, requestTimeoutMs: 60000, retryBaseMs: 500, retryMaxMs: 30000, sendMaxAttempts: 8,
      roomLookupAttempts: 6, roomLookupBaseMs: 250, roomLookupMaxMs: 5000,
      heartbeatMs: 25000, pongTimeoutMs: 10000, reconnectBaseMs: 500, reconnectMaxMs: 30000, reconnectResetMs: 10000,
      maxFrameBytes: 1048576, runStartTimeoutMs: 15000, runIdleTimeoutMs: 60000, runDeadlineMs: 300000,
      typingTimeoutMs: 30000, typingDelayMs: 300, placeholderDelayMs: 5000, turnQueueLimit: 20, busyRetries: 3, busyRetryDelayMs: 1000,
      sendConcurrency: 64, fanoutConcurrency: 48,
      gapFillMaxEvents: 500, shutdownGraceMs: 10000, httpBodyLimitBytes: 65536, appserviceBodyLimitBytes: 10485760,
      homeserverStaleMs: 90000, maxConcurrentRuns: 8, maxRunsPerUser: 2, spacesMaxRooms: 100, newRoomsMaxPerUser: 20,
      logRepeatWindowMs: 60000, streamEditIntervalMs: 1000, streamSlowEditIntervalMs: 3000, streamMaxEdits: 50,
      editReanswerMs: 600000, approvalTimeoutMs: 600000, threadsFollowedMax: 200, answersRememberedMax: 100,
      mediaMaxBytes: 20_971_520, mediaMaxInflightBytes: 67_108_864, mediaInlineMaxBytes: 262_144, mediaDownloadTimeoutMs: 60_000, mediaUrlTtlMs: 300_000, mediaOutMaxBytes: 20_971_520,
      storeSweepIntervalMs: 600000, storeSweepBatch: 1000, agentHistoryMaxMessages: 50,
      leaseMs: 10000,
      undecryptableKeepMax: 1000, undecryptableKeepMs: 86400000,
    });
    expect(config.secrets).toEqual(["syt_client_token"]);
  });

  it("reads every variable when set, and treats empty strings as unset", () => {
    const config = expectOk(
      loadConfig(
        {
          ...clientEnv,
          MATRIX_HOMESERVER_URL: "http://127.0.0.1:8008/",
          MATRIX_E2EE: "TRUE",
          CRYPTO_PASSPHRASE: "correct horse",
          AGENT_URL: "wss://agent.example.org/ws",
          AGENT_TOKEN: "agent-token-1",
          DATA_DIR: "/var/lib/bot",
          STORE_URL: "postgres://bot:pg-pass@db/bot",
          HTTP_BIND: "0.0.0.0:0",
          PROACTIVE_TOKEN: "push-token-1",
          ALLOWED_USERS: "@alice:example.org, @*:example.com",
          BOT_ADMINS: "@admin:example.org",
          ADMIN_ROOM: "#bot-admin:example.org",
          BOT_DISPLAY_NAME: "Helper",
          LOG_LEVEL: "debug",
          SPACES_FOLLOW_CHILDREN: "0",
          PROVISION_SPACE: "1",
          STREAMING: "Final",
          STREAM_MAX_EDITS: "10",
          TYPING_TIMEOUT_MS: "20",
          TYPING_DELAY_MS: "0",
          RUN_DEADLINE_MS: "1000",
          LLM_API_KEY: "sk-llm-key",
          MATRIX_MODE: "",
          APPSERVICE_BIND: "",
        },
        NO_FILES,
      ),
    );
    expect(config.homeserverUrl).toBe("http://127.0.0.1:8008");
    expect(config.mode).toBe("client");
    expect(config.e2ee).toBe(true);
    expect(config.cryptoPassphrase).toBe("correct horse");
    expect(config.agent).toEqual({ url: "wss://agent.example.org/ws", token: "agent-token-1" });
    expect(config.dataDir).toBe("/var/lib/bot");
    expect(config.storeUrl).toBe("postgres://bot:pg-pass@db/bot");
    expect(config.http).toEqual({ host: "0.0.0.0", port: 0, proactiveToken: "push-token-1" });
    expect(config.appserviceBind).toEqual({ host: "127.0.0.1", port: 9999 });
    expect(config.allowedUsers).toEqual(["@alice:example.org", "@*:example.com"]);
    expect(config.botAdmins).toEqual(["@admin:example.org"]);
    expect(config.adminRoom).toBe("#bot-admin:example.org");
    expect(config.botDisplayName).toBe("Helper");
    expect(config.logLevel).toBe("debug");
    expect(config.spacesFollowChildren).toBe(false);
    expect(config.provisionSpace).toBe(true);
    expect(config.streaming).toBe("final");
    expect(config.timings.streamMaxEdits).toBe(10);
    expect(config.timings.typingTimeoutMs).toBe(20);
    expect(config.timings.typingDelayMs).toBe(0); // 0 allowed here: typing at once
    expect(config.timings.runDeadlineMs).toBe(1000);
    expect(new Set(config.secrets)).toEqual(
      new Set(["syt_client_token", "agent-token-1", "push-token-1", "correct horse", "sk-llm-key", "pg-pass"]),
    );
  });

  it("keeps the in-process reference agent's MCP header and env values among the secrets the log redacts", () => {
    const config = expectOk(loadConfig({ ...clientEnv, LLM_BASE_URL: "http://127.0.0.1:1/v1", LLM_MODEL: "m",
      MCP_SERVERS: JSON.stringify({ web: { url: "http://127.0.0.1:2/mcp", headers: { Authorization: "Bearer mcp-header-secret" } },
        files: { command: "node", env: { FILES_KEY: "mcp-env-secret" } } }) }, NO_FILES));
    expect(config.secrets).toEqual(expect.arrayContaining(["Bearer mcp-header-secret", "mcp-env-secret"]));
  });

  it("accepts ALLOWED_USERS set to an empty string as unset (the bot's own server)", () => {
    const config = expectOk(loadConfig({ ...clientEnv, ALLOWED_USERS: "" }, NO_FILES));
    expect(config.allowedUsers).toBeUndefined();
  });
});

describe("loadConfig: problems", () => {
  it("explains a missing homeserver with an example and a pointer to .env", () => {
    const { message, variables } = expectProblems(loadConfig({ MATRIX_ACCESS_TOKEN: "t" }, NO_FILES));
    expect(variables).toEqual(["MATRIX_HOMESERVER_URL"]);
    expect(message).toMatch(/^matrix-agent-bot cannot start: the configuration has 1 problem:/);
    const line = lineAbout(message, "MATRIX_HOMESERVER_URL");
    expect(line).toMatch(/needs to know .*homeserver/);
    expect(line).toContain("MATRIX_HOMESERVER_URL=https://matrix.example.org");
    expect(line).toMatch(/\.env\b/);
    expect(line).toContain(".env.example");
  });

  const cases: Array<[string, string, RegExp]> = [
    ["MATRIX_HOMESERVER_URL", "matrix.example.org", /"matrix\.example\.org" is not an http:\/\/ or https:\/\/ URL\. Fix: /],
    ["MATRIX_MODE", "bridge", /"bridge" is neither "appservice" nor "client"\. Fix: set MATRIX_MODE to appservice or client/],
    ["MATRIX_E2EE", "yes", /"yes" is not a boolean .*Fix: set MATRIX_E2EE to true or false/],
    ["SPACES_FOLLOW_CHILDREN", "on", /"on" is not a boolean/],
    ["RUN_IDLE_TIMEOUT_MS", "-5", /"-5" is not a positive whole number\. Fix: set RUN_IDLE_TIMEOUT_MS to a whole number/],
    ["SEND_MAX_ATTEMPTS", "2.5", /"2\.5" is not a positive whole number/],
    ["AGENT_HEARTBEAT_MS", "0", /"0" must be greater than 0/],
    ["TYPING_TIMEOUT_MS", "45000", /"45000" must be at most 30000/],
    ["TYPING_DELAY_MS", "-1", /"-1" is not a whole number \(0 or more\)\. Fix: set TYPING_DELAY_MS to a whole number from 0 to/],
    ["ALLOWED_USERS", "@alice:example.org,bob", /contains "bob", which is not @localpart:server\. Fix: .*@\*:example\.org/],
    ["BOT_ADMINS", "admin@example.org", /"admin@example\.org", which is not @localpart:server/],
    ["STORE_URL", "mysql://root:hunter2@db/bot", /has the scheme mysql:\/\/, which is not one of sqlite:\/\/, postgres:\/\/, postgresql:\/\/, redis:\/\/, rediss:\/\//],
    ["AGENT_URL", "ftp://agent:8790", /is not a ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/ URL/],
    ["HTTP_BIND", "8080", /"8080" is not host:port/],
    ["APPSERVICE_BIND", "127.0.0.1:70000", /is not host:port/],
    ["ADMIN_ROOM", "bot-admin", /is not a room id \(!…\) or alias/],
    ["LOG_LEVEL", "verbose", /"verbose" is not a log level/],
    ["STREAMING", "live", /"live" is neither "edits" nor "final"\. Fix: set STREAMING to edits or final/],
  ];

  it.each(cases)("names %s=%s with its problem and fix", (variable, value, expected) => {
    const { message, variables } = expectProblems(loadConfig({ ...clientEnv, [variable]: value }, NO_FILES));
    expect(variables).toEqual([variable]);
    expect(lineAbout(message, variable)).toMatch(expected);
  });

  it("never quotes a store URL's password back", () => {
    const { message } = expectProblems(loadConfig({ ...clientEnv, STORE_URL: "mysql://root:hunter2@db/bot" }, NO_FILES));
    expect(message).not.toContain("hunter2");
  });

  it("checks that backoff bases do not exceed their maxima", () => {
    const { message } = expectProblems(
      loadConfig({ ...clientEnv, AGENT_RECONNECT_BASE_MS: "5000", AGENT_RECONNECT_MAX_MS: "1000" }, NO_FILES),
    );
    expect(lineAbout(message, "AGENT_RECONNECT_BASE_MS")).toMatch(/more than AGENT_RECONNECT_MAX_MS/);
    const lookup = expectProblems(
      loadConfig({ ...clientEnv, ROOM_LOOKUP_RETRY_BASE_MS: "6000", ROOM_LOOKUP_RETRY_MAX_MS: "5000" }, NO_FILES),
    );
    expect(lineAbout(lookup.message, "ROOM_LOOKUP_RETRY_BASE_MS")).toMatch(/more than ROOM_LOOKUP_RETRY_MAX_MS/);
  });

  it("lists every problem at once, not only the first", () => {
    const { message, variables } = expectProblems(
      loadConfig(
        {
          MATRIX_MODE: "bridge",
          MATRIX_E2EE: "yes",
          RUN_DEADLINE_MS: "soon",
          ALLOWED_USERS: "*",
          STORE_URL: "ftp://x",
          LOG_LEVEL: "loud",
        },
        NO_FILES,
      ),
    );
    const expected = ["MATRIX_HOMESERVER_URL", "MATRIX_MODE", "MATRIX_E2EE", "RUN_DEADLINE_MS", "ALLOWED_USERS", "STORE_URL", "LOG_LEVEL"];
    expect(variables).toEqual(expect.arrayContaining(expected));
    expect(message.split("\n")[0]).toBe(
      `matrix-agent-bot cannot start: the configuration has ${variables.length} problems:`,
    );
    for (const variable of expected) expect(lineAbout(message, variable)).toMatch(/\. Fix: .+/);
    const lines = message.split("\n");
    expect(lines).toHaveLength(variables.length + 1);
    variables.forEach((variable, i) => expect(lines[i + 1]).toMatch(new RegExp(`^${variable}: .+\\. Fix: .+\\.$`)));
  });
});
