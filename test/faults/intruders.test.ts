// What outsiders cost the bot's store (appservice mode, ALLOWED_USERS = Alice only): transactions pushed with a
// wrong hs_token, a stranger flooding a room the bot is in, a user outside the allowlist inviting the bot into
// rooms. The store's rows are counted with the bot stopped (everything written) before and after: nothing may be
// added. A restart alone adds nothing either (the control).
import { randomBytes } from "node:crypto";
import type { ClientEvent } from "../support/homeserver";
import { Scenario } from "../support/scenario";
import { storeKeys } from "../support/store-rows";
import { printFigure } from "./support";

const STRANGER_EVENTS = 1_000;
const INVITES = 20;
/** Every transaction the double pushed: id, status, and what it carried. */
const describeTransactions = (world: Scenario): string => JSON.stringify(world.hs.transactions.map((t) =>
  [t.txnId, t.status, t.events.map((e) => [e.type, e.sender, e.content["membership"] ?? String(e.content["body"]).slice(0, 20)])]));

describe("fault: outsiders leave nothing in the store", () => {
  let s: Scenario | undefined;
  /** What the last count that found rows added saw (shown when the control fails). */
  let diagnostics = "";
  afterEach(async () => {
    await s?.stop();
    s = undefined;
  });

  /** Rows added to the store by what `act` makes happen, counted with the bot stopped before and after. */
  async function rowsAddedBy(world: Scenario, act: () => Promise<void>): Promise<string[]> {
    const pushed = (): Promise<boolean> =>
      world.hs.waitFor(() => world.hs.appserviceIdle("matrix-agent-bot"), { what: "every transaction pushed and answered", timeoutMs: 60_000 });
    await pushed(); // nothing of the setup left to deliver at the next start
    const firstLogs = world.bot.logs;
    await world.stopBot();
    const before = new Set(await storeKeys(world.dataDir));
    const txnsBefore = describeTransactions(world);
    await world.startBot();
    await act();
    await pushed();
    await world.stopBot(); // drains: every write the bot was going to make is made
    const after = await storeKeys(world.dataDir);
    const added = after.filter((k) => !before.has(k));
    if (added.length > 0) {
      const log = [...firstLogs.lines(), ...world.bot.logs.lines()]
        .filter((l) => l.module === "appservice" || l.module === "store" || l.level >= 40).slice(-60);
      diagnostics = `transactions before: ${txnsBefore}\nafter: ${describeTransactions(world)}\nlog: ${JSON.stringify(log)}`;
    }
    return added;
  }

  const start = async (): Promise<{ world: Scenario; group: string }> => {
    const world = (s = await Scenario.start({ mode: "appservice", env: { ALLOWED_USERS: "@alice:localhost" } }));
    const mallory = world.person("mallory", "Mallory");
    const group = await world.openGroup(world.alice, [mallory]);
    const control = await rowsAddedBy(world, async () => undefined); // the control: a restart adds nothing
    if (control.length > 0) throw new Error(`a restart alone added ${JSON.stringify(control)}\n${diagnostics}`);
    return { world, group };
  };

  it("transactions with a wrong or no hs_token are refused and store nothing", async () => {
    const { world, group } = await start();
    const statuses: number[] = [];
    const added = await rowsAddedBy(world, async () => {
      for (let i = 0; i < 50; i++) {
        const event: ClientEvent = { event_id: `$forged${i}_${randomBytes(8).toString("hex")}`, room_id: group, sender: world.alice.userId,
          type: "m.room.message", origin_server_ts: Date.now(), content: { msgtype: "m.text", body: `forged ${i}` } };
        const hsToken = i % 2 === 0 ? `hs_${randomBytes(16).toString("hex")}` : "";
        statuses.push((await world.hs.pushTransaction("matrix-agent-bot", [event], { txnId: `forged-${i}`, hsToken })).status);
      }
    });
    const refused = statuses.filter((c) => c === 401 || c === 403).length;
    printFigure("forged-transactions-store-nothing", { transactions: statuses.length, refused, rowsAdded: added.length });
    expect(refused).toBe(statuses.length);
    expect(world.botMessages(group)).toEqual([]);
    expect(added).toEqual([]);
  });

  it("invites from users outside ALLOWED_USERS are declined and store nothing", async () => {
    const { world } = await start();
    const mallory = world.person("mallory2", "Mallory Two");
    const rooms: string[] = [];
    const added = await rowsAddedBy(world, async () => {
      for (let i = 0; i < INVITES; i++) {
        rooms.push(world.hs.createRoom(mallory.userId, { isDirect: i % 2 === 0, invite: [world.botUserId], name: `Lure ${i}` }));
      }
      await world.hs.waitFor(() => rooms.every((r) => world.hs.membership(r, world.botUserId) === "leave"), { what: "every invite declined", timeoutMs: 30_000 });
    });
    printFigure("outsider-invites-store-nothing", { invites: rooms.length, declined: rooms.length, rowsAdded: added.length });
    expect(added).toEqual([]);
  });

  it("a stranger's 1,000 messages, reactions, redactions and polls in the bot's room store nothing", async () => {
    const { world, group } = await start();
    const mallory = "@mallory:localhost";
    let sent = 0;
    const added = await rowsAddedBy(world, async () => {
      const mine: string[] = [];
      for (let i = 0; sent < STRANGER_EVENTS; i++, sent++) {
        const kind = i % 10;
        if (kind < 7 || mine.length === 0) {
          mine.push(world.hs.sendEvent(mallory, group, "m.room.message", { msgtype: "m.text", body: `@bot hello ${i}` }));
        } else if (kind === 7) {
          world.hs.sendEvent(mallory, group, "m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: mine.at(-1), key: "👍" } });
        } else if (kind === 8) {
          world.hs.redact(mallory, group, mine.pop() ?? "");
        } else {
          world.hs.sendEvent(mallory, group, "m.poll.start", { "m.poll": { question: { "m.text": [{ body: "?" }] }, answers: [] } });
        }
      }
    });
    printFigure("stranger-events-store-nothing", { events: sent, rowsAdded: added.length });
    expect(world.botMessages(group)).toEqual([]);
    expect(added).toEqual([]);
  });
});
