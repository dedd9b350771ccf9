// The attachment limits that depend on each other are checked together at start.
import { loadConfig } from "../../../src/config";
import { HS } from "../config/config-helpers";

const base = { MATRIX_HOMESERVER_URL: HS, MATRIX_MODE: "client", MATRIX_ACCESS_TOKEN: "tok", AGENT_URL: "ws://127.0.0.1:1" };

describe("attachment settings", () => {
  it("accepts the defaults and MEDIA_PUBLIC_URL", () => {
    const result = loadConfig({ ...base, MEDIA_PUBLIC_URL: "https://bot.example.org/" });
    expect(result.ok && result.config.http.mediaPublicUrl).toBe("https://bot.example.org");
  });

  it("refuses MEDIA_MAX_BYTES above MEDIA_MAX_INFLIGHT_BYTES, and a frame limit too small for an inline attachment", () => {
    const result = loadConfig({ ...base, MEDIA_MAX_BYTES: "2000", MEDIA_MAX_INFLIGHT_BYTES: "1000", MEDIA_INLINE_MAX_BYTES: "3000000", MEDIA_PUBLIC_URL: "ftp://x" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.variable).sort()).toEqual(["AGENT_MAX_FRAME_BYTES", "MEDIA_MAX_BYTES", "MEDIA_PUBLIC_URL"]);
    expect(result.message).toContain("too small for a run carrying MEDIA_INLINE_MAX_BYTES (3000000) inline");
  });
});
