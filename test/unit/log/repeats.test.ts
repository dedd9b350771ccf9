// Identical log lines are rate-limited (LOG_REPEAT_WINDOW_MS): a flood of the same debug or warn line, differing
// only in per-item fields (event ids, attempts), writes one line per window, the next carrying the count left out.
// Different rooms or messages, info lines and fatal lines are never held back.
import { Writable } from "node:stream";
import { createLogger } from "../../../src/log";

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, done) { raw.push(chunk.toString()); done(); } });
  return { stream, lines: () => raw.join("").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("repeated log lines", () => {
  // The window is read from Date.now: the test moves that clock (a flood that takes longer than the window on a
  // busy machine must not end the window early, and the window's end must not depend on a sleep).
  let now = Date.parse("2025-03-01T12:00:00Z");
  beforeEach(() => jest.spyOn(Date, "now").mockImplementation(() => now));
  afterEach(() => jest.restoreAllMocks());

  it("writes a flood of identical warn and debug lines once per window, then with the number left out", () => {
    const out = capture();
    const log = createLogger({ level: "debug", secrets: [], destination: out.stream, repeatWindowMs: 200 }).child({ module: "appservice" });
    for (let i = 0; i < 1000; i++) {
      log.warn({ roomId: "!hostile:x", eventId: `$e${i}`, txnId: `t${i}`, reason: "content is not an object" }, "malformed event skipped");
      log.debug({ roomId: "!hostile:x", sender: "@m:x" }, "message from a user not in ALLOWED_USERS ignored");
    }
    log.warn({ roomId: "!other:x", reason: "content is not an object" }, "malformed event skipped"); // another room
    log.warn({ roomId: "!hostile:x", reason: "content is not an object" }, "another message");
    for (let i = 0; i < 5; i++) log.info({ roomId: "!hostile:x" }, "introduction posted");
    log.fatal("fatal lines always");
    now += 250; // the window is over
    log.warn({ roomId: "!hostile:x", eventId: "$late", txnId: "t-late", reason: "content is not an object" }, "malformed event skipped");
    const lines = out.lines();
    const floods = lines.filter((l) => l["msg"] === "malformed event skipped" && l["roomId"] === "!hostile:x");
    expect(floods.map((l) => l["repeated"])).toEqual([undefined, 999]);
    expect(floods[1]?.["eventId"]).toBe("$late");
    expect(lines.filter((l) => String(l["msg"]).startsWith("message from a user"))).toHaveLength(1);
    expect(lines.filter((l) => l["roomId"] === "!other:x")).toHaveLength(1);
    expect(lines.filter((l) => l["msg"] === "another message")).toHaveLength(1);
    expect(lines.filter((l) => l["msg"] === "introduction posted")).toHaveLength(5);
    expect(lines.filter((l) => l["msg"] === "fatal lines always")).toHaveLength(1);
  });

  it("writes every line when the window is 0", () => {
    const out = capture();
    const log = createLogger({ level: "debug", secrets: [], destination: out.stream, repeatWindowMs: 0 });
    for (let i = 0; i < 10; i++) log.warn({ roomId: "!r:x" }, "same");
    expect(out.lines()).toHaveLength(10);
  });
});
