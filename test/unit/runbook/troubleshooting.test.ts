// runbook/troubleshooting.md stays in step with the code: every text the bot posts on its own and every
// line it logs at error or fatal level has its entry there.
import { readFileSync } from "node:fs";
import path from "node:path";
import { ENCRYPTED_ROOM_NOTICE } from "../../../src/rooms/encrypted-notice";
import { FAILURE_TEXTS } from "../../../src/turns/failure-text";
import { errorLogCalls } from "./log-lines";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const page = readFileSync(path.join(ROOT, "runbook", "troubleshooting.md"), "utf8");

describe("runbook/troubleshooting.md", () => {
  it.each(Object.entries(FAILURE_TEXTS))("quotes the failure text %s verbatim", (_key, text) => {
    expect(page).toContain(text);
  });

  it("quotes the encrypted-room notice verbatim", () => {
    expect(page).toContain(ENCRYPTED_ROOM_NOTICE);
  });

  it("has an entry for every error and fatal log line in src/", () => {
    const calls = errorLogCalls(path.join(ROOT, "src"));
    expect(calls.length).toBeGreaterThan(30);
    const missing = calls.filter((c) => !c.pattern.test(page)).map((c) => `${c.file}:${c.line} ${c.level} "${c.message}"`);
    expect(missing).toEqual([]);
  });
});
