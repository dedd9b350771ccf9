// USAGE_LIMIT_TOKENS_PER_USER_DAY and USAGE_LIMIT_TOKENS_PER_ROOM_DAY: unset means no limit; a bad value is listed
// with the other problems.
import { loadConfig } from "../../../src/config";
import { expectOk, HS, NO_FILES } from "./config-helpers";

const base = { MATRIX_HOMESERVER_URL: HS, MATRIX_ACCESS_TOKEN: "t" };

describe("daily usage limits", () => {
  it("unset: no limit", () => {
    expect(expectOk(loadConfig(base, NO_FILES)).usageLimits).toEqual({});
  });

  it("set: tokens per person and per room per UTC day", () => {
    const config = expectOk(loadConfig({ ...base, USAGE_LIMIT_TOKENS_PER_USER_DAY: "200000", USAGE_LIMIT_TOKENS_PER_ROOM_DAY: "500000" }, NO_FILES));
    expect(config.usageLimits).toEqual({ perUserDay: 200_000, perRoomDay: 500_000 });
  });

  it("a value that is not a positive whole number is listed, both at once", () => {
    const result = loadConfig({ ...base, USAGE_LIMIT_TOKENS_PER_USER_DAY: "lots", USAGE_LIMIT_TOKENS_PER_ROOM_DAY: "0" }, NO_FILES);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.variable)).toEqual(["USAGE_LIMIT_TOKENS_PER_USER_DAY", "USAGE_LIMIT_TOKENS_PER_ROOM_DAY"]);
    expect(result.message).toContain("leave it unset for no limit");
  });
});
