import { createLogger, routeSdkLogs, type SdkLogSink } from "../../../src/log";

const TOKEN = "syt_sdk_secret_token_42";

/** A LogService/LogLevel pair shaped like matrix-bot-sdk's, recording what the adapter does with it. */
function fakeSdk() {
  const LogLevel = { TRACE: "TRACE", DEBUG: "DEBUG", INFO: "INFO", WARN: "WARN", ERROR: "ERROR" } as const;
  type Level = (typeof LogLevel)[keyof typeof LogLevel];
  const state: { sink?: SdkLogSink; level?: Level } = {};
  const LogService = {
    setLogger: (sink: SdkLogSink) => void (state.sink = sink),
    setLevel: (level: Level) => void (state.level = level),
  };
  return { sdk: { LogService, LogLevel }, state };
}

function setup(level: string) {
  const lines: string[] = [];
  const logger = createLogger({ level, secrets: [TOKEN], destination: { write: (l: string) => void lines.push(l) } });
  const { sdk, state } = fakeSdk();
  const sink = routeSdkLogs(logger, sdk);
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { sink, state, lines, records };
}

describe("routeSdkLogs", () => {
  it("installs itself as the SDK's logger and sets the SDK's level from ours", () => {
    expect(setup("info").state.level).toBe("WARN");
    expect(setup("debug").state.level).toBe("INFO");
    expect(setup("trace").state.level).toBe("TRACE");
    expect(setup("error").state.level).toBe("ERROR");
    const { state, sink } = setup("info");
    expect(state.sink).toBe(sink);
  });

  it("logs under module sdk:<module>; SDK info goes to our debug level", () => {
    const quiet = setup("info");
    quiet.sink.info("MatrixClientLite", "End-to-end encryption enabled");
    expect(quiet.lines).toEqual([]);

    const verbose = setup("debug");
    verbose.sink.info("MatrixClientLite", "Backing off for", 500, "ms");
    verbose.sink.warn("Appservice", "outdated field");
    expect(verbose.records()).toEqual([
      expect.objectContaining({ level: 20, module: "sdk:MatrixClientLite", msg: "Backing off for 500 ms" }),
      expect.objectContaining({ level: 40, module: "sdk:Appservice", msg: "outdated field" }),
    ]);
  });

  it("summarizes errors as message + errcode/statusCode", () => {
    const { sink, records } = setup("info");
    const matrixError = Object.assign(new Error("M_FORBIDDEN: You are not invited to this room."), {
      errcode: "M_FORBIDDEN",
      statusCode: 403,
      body: { errcode: "M_FORBIDDEN", error: "You are not invited to this room." },
    });
    sink.error("Appservice", "Failed to join", matrixError);
    const [record] = records();
    expect(record).toMatchObject({
      level: 50,
      module: "sdk:Appservice",
      msg: expect.stringContaining("Failed to join"),
      sdkError: { message: "M_FORBIDDEN: You are not invited to this room.", errcode: "M_FORBIDDEN", statusCode: 403 },
    });
  });

  it("never logs a raw HTTP response or request with its Authorization header", () => {
    const { sink, lines, records } = setup("trace");
    const rawResponse = {
      statusCode: 502,
      body: "<html>Bad gateway</html>",
      headers: { "content-type": "text/html" },
      request: {
        uri: { href: `https://hs.example.org/_matrix/client/v3/sync?access_token=${TOKEN}` },
        headers: { Authorization: `Bearer ${TOKEN}` },
      },
    };
    sink.error("MatrixClientLite", "(REQ-7)", rawResponse);
    sink.debug("MatrixHttpClient", "(REQ-8)", { method: "GET", headers: { Authorization: `Bearer ${TOKEN}` } });
    sink.trace("MatrixHttpClient", `(REQ-9) qs = {"access_token":"${TOKEN}"}`);
    sink.warn("MatrixClient", new Error(`failed GET /x?access_token=${TOKEN}`));
    const all = lines.join("");
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain("Authorization");
    expect(records()[0]).toMatchObject({ details: [{ statusCode: 502, body: "<html>Bad gateway</html>" }] });
  });

  it("logs MatrixHttpClient failures at debug: the caller gets the error and decides", () => {
    const { sink, records } = setup("debug");
    sink.error("MatrixHttpClient", "(REQ-3)", { errcode: "M_NOT_FOUND", error: "Event not found." });
    expect(records()).toEqual([
      expect.objectContaining({ level: 20, module: "sdk:MatrixHttpClient", details: [{ errcode: "M_NOT_FOUND", error: "Event not found." }] }),
    ]);
  });
});
