import { childLogger, createLogger, createSecretScrubber } from "../../../src/log";

const ACCESS_TOKEN = "syt_Ym90_SecretAccessToken_1a2b3c";
const AS_TOKEN = "as/with+special&chars=\"quoted\"";
const SHORT = "k3y";
const SECRETS = [ACCESS_TOKEN, AS_TOKEN, SHORT, "proactive-push-token"];

function capture(level = "trace", secrets: string[] = SECRETS, pretty?: boolean) {
  const lines: string[] = [];
  const destination = { write: (line: string) => void lines.push(line) };
  const logger = createLogger({ level, secrets, destination, ...(pretty === undefined ? {} : { pretty }) });
  return { logger, lines, text: () => lines.join("") };
}

function expectClean(text: string): void {
  for (const secret of SECRETS) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(encodeURIComponent(secret));
    expect(text).not.toContain(JSON.stringify(secret).slice(1, -1));
  }
}

describe("createLogger: redaction of configured secrets", () => {
  it("writes JSON lines by default (pretty off)", () => {
    const { logger, lines } = capture("info");
    logger.info({ roomId: "!r:example.org" }, "joined");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ level: 30, msg: "joined", roomId: "!r:example.org" });
  });

  it("removes secrets from message text, including short ones", () => {
    const { logger, text } = capture();
    logger.info(`token is ${ACCESS_TOKEN}, key is ${SHORT}, as token ${AS_TOKEN}`);
    expectClean(text());
    expect(text()).toContain("[REDACTED]");
    expect(JSON.parse(text()).msg).toBe("token is [REDACTED], key is [REDACTED], as token [REDACTED]");
  });

  it("removes secrets from nested objects and arrays under any key", () => {
    const { logger, text } = capture();
    logger.warn({ deep: { list: [{ note: `x${ACCESS_TOKEN}y` }, AS_TOKEN], more: { inner: { value: SHORT } } } }, "nested");
    expectClean(text());
  });

  it("removes secrets from URLs, raw and URL-encoded, and any access_token query parameter", () => {
    const { logger, text } = capture();
    logger.info({ url: `https://hs.example.org/_matrix/client/v3/sync?access_token=${encodeURIComponent(AS_TOKEN)}` }, "request");
    logger.info(`GET https://hs.example.org/x?since=s1&access_token=${ACCESS_TOKEN}`);
    logger.info("GET https://hs.example.org/x?access_token=someone_elses_token&x=1");
    expectClean(text());
    expect(text()).not.toContain("someone_elses_token");
    expect(text()).toContain("x=1");
  });

  it("removes secrets from error messages and stacks", () => {
    const { logger, text } = capture();
    const error = new Error(`request failed with Authorization: Bearer ${ACCESS_TOKEN}`);
    logger.error({ err: error }, "send failed");
    logger.error(new Error(`hs_token ${AS_TOKEN} rejected`));
    const parsed = text().trim().split("\n").map((l) => JSON.parse(l) as { err: { stack: string } });
    expect(parsed[0]?.err.stack).toMatch(/\n\s+at /); // the stack is there...
    expectClean(text()); // ...without the secret
  });

  it("blanks Authorization headers wherever they appear, even for unknown tokens", () => {
    const { logger, text } = capture();
    logger.info({ headers: { authorization: "Bearer unknown-token-1" } }, "a");
    logger.info({ req: { headers: { authorization: "Bearer unknown-token-2" } } }, "b");
    logger.info({ request: { headers: { Authorization: "Bearer unknown-token-3" } } }, "c");
    logger.info({ err: { response: { request: { headers: { Authorization: "Bearer unknown-token-4" } } } } }, "d");
    logger.info({ options: { access_token: "unknown-token-5", password: "unknown-pw" } }, "e");
    logger.info('upstream said {"access_token":"unknown-token-6"} and Bearer unknown-token-7');
    const all = text();
    for (let i = 1; i <= 7; i++) expect(all).not.toContain(`unknown-token-${i}`);
    expect(all).not.toContain("unknown-pw");
  });

  it("redacts in child loggers and names the module", () => {
    const { logger, text } = capture();
    const child = childLogger(logger, "turns");
    child.info({ token: "t" }, `child sees ${ACCESS_TOKEN}`);
    expectClean(text());
    expect(JSON.parse(text())).toMatchObject({ module: "turns" });
  });

  it("redacts pretty output too", () => {
    const { logger, text } = capture("info", SECRETS, true);
    logger.info({ nested: { t: ACCESS_TOKEN } }, `pretty ${AS_TOKEN}`);
    expect(text()).toContain("pretty [REDACTED]");
    expect(() => JSON.parse(text())).toThrow(); // human-readable, not JSON
    expectClean(text());
  });
});

describe("createSecretScrubber", () => {
  it("leaves text without secrets unchanged", () => {
    const scrub = createSecretScrubber(SECRETS);
    const line = '{"level":30,"msg":"hello @alice:example.org in !room:example.org"}';
    expect(scrub(line)).toBe(line);
  });

  it("ignores empty secrets", () => {
    expect(createSecretScrubber(["", ACCESS_TOKEN])("a b")).toBe("a b");
  });
});

describe("createLogger: credential fields", () => {
  it("blanks them at any depth, in child bindings too, and leaves the logged object as it was", () => {
    const { logger, text } = capture();
    const fields = { a: { b: { c: { headers: { authorization: "Bearer unknown-token-8" } } } }, list: [{ api_key: "unknown-key-9" }], roomId: "!r:x" };
    logger.child({ module: "m", token: "unknown-token-10" }).info(fields, "deep");
    const line = JSON.parse(text()) as Record<string, unknown>;
    expect(line).toMatchObject({ module: "m", token: "[REDACTED]", roomId: "!r:x", list: [{ api_key: "[REDACTED]" }],
      a: { b: { c: { headers: { authorization: "[REDACTED]" } } } } });
    expect(fields.a.b.c.headers.authorization).toBe("Bearer unknown-token-8"); // the caller's object is not changed
    expect(fields.list[0]?.api_key).toBe("unknown-key-9");
  });

  it("an error logged as err keeps its type and stack (its serializer writes no credential field)", () => {
    const { logger, text } = capture();
    const error = Object.assign(new TypeError("boom"), { headers: { authorization: "Bearer unknown-token-11" } });
    logger.error({ err: error }, "failed");
    const line = JSON.parse(text()) as { err: { type: string; stack: string } };
    expect(line.err.type).toBe("TypeError");
    expect(line.err.stack).toContain("boom");
    expect(text()).not.toContain("unknown-token-11");
  });
});
