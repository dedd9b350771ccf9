// /usage: the room's tokens today and on earlier days, the sender's own today and the daily limits, for anyone;
// `/usage all`, every room and person, for bot admins only.
import pino from "pino";
import { UsageLedger } from "../../../src/usage/ledger";
import { startHarness, type Harness } from "./support";

const NOW = Date.parse("2026-03-01T21:30:00Z");
const run = (totalTokens: number, inputTokens = totalTokens, outputTokens = 0) => ({ runs: 1, inputTokens, outputTokens, totalTokens });

describe("/usage", () => {
  let h: Harness;
  let ledger: UsageLedger;
  const alice = "@alice:localhost";
  const bob = "@bob:localhost";

  beforeEach(async () => {
    h = await startHarness({ botAdmins: ["@root:localhost"] });
    ledger = new UsageLedger(h.store, pino({ level: "silent" }));
    h.deps.usage = { ledger, limits: { perRoomDay: 1000 }, now: () => NOW };
    await ledger.record("2026-03-01", { roomId: "!a:localhost", userId: alice, agent: "default" }, run(300, 250, 50));
    await ledger.record("2026-03-01", { roomId: "!a:localhost", userId: bob, agent: "default" }, run(200, 150, 50));
    await ledger.record("2026-03-01", { roomId: "!b:localhost", userId: alice, agent: "default" }, run(1200));
    await ledger.record("2026-02-27", { roomId: "!a:localhost", userId: alice, agent: "default" }, run(40));
  });
  afterEach(() => h.close());

  it("shows the room today, its limit and when it resets, the sender's own day, and earlier days", async () => {
    await h.say("!a:localhost", alice, "!usage");
    expect(h.lastReply()).toBe([
      "This room today (2026-03-01, UTC): 500 tokens (400 in, 100 out) in 2 runs.",
      "  Daily limit: 1,000 tokens per room; it resets at midnight UTC, in 2 hours and 30 minutes.",
      "You today, all rooms: 1,500 tokens (1,450 in, 50 out) in 2 runs.",
      "Earlier days here: 2026-02-27: 40.",
    ].join("\n"));
    await h.say("!b:localhost", bob, "/usage");
    expect(h.lastReply()?.split("\n").slice(0, 2)).toEqual([
      "This room today (2026-03-01, UTC): 1,200 tokens (1,200 in, 0 out) in 1 run.",
      "  Daily limit: 1,000 tokens per room (reached); it resets at midnight UTC, in 2 hours and 30 minutes.",
    ]);
  });

  it("names each agent when more than one was used", async () => {
    await ledger.record("2026-03-01", { roomId: "!a:localhost", userId: alice, agent: "coder" }, run(7));
    await h.say("!a:localhost", alice, "/usage");
    expect(h.lastReply()?.split("\n")[1]).toBe("  By agent: default 500 · coder 7");
  });

  it("/usage all lists every room and person, most first, for bot admins only", async () => {
    await h.say("!a:localhost", alice, "/usage all");
    expect(h.lastReply()).toBe("Sorry, only the bot's admins (BOT_ADMINS) can do that.");
    await h.say("!a:localhost", "@root:localhost", "/usage all");
    expect(h.lastReply()).toBe([
      "Whole bot today (2026-03-01, UTC): 1,700 tokens (1,600 in, 100 out) in 3 runs.",
      "Rooms today (2, most first):",
      "  !b:localhost: 1,200",
      "  !a:localhost: 500",
      "People today (2, most first):",
      "  @alice:localhost: 1,500",
      "  @bob:localhost: 200",
    ].join("\n"));
  });
});
