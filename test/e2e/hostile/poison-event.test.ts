// Issue 14, finding 1: a message whose content trips the store's serializer (a `toJSON` key: keyv's serializer
// calls it) made journaling throw, so its batch was refused forever (appservice: 500 and Synapse's retries; client
// mode: the sync token never moved) and the bot heard nothing in any room. Now the content is stored as it
// arrived, an allowed sender's hostile message is answered like any other, and nothing is refused: the other
// rooms' messages go through on the first attempt.
import type { KeyvStoreAdapter } from "keyv";
import { echoReplyFor } from "../../../src/reference-agent/server";
import { FaultyStoreAdapter, InjectedStoreFault } from "../../support/faulty-store";
import { hostileContent } from "../../support/hostile-content";
import { MODES, Scenario } from "../../support/scenario";
import { describeEachE2eBackend } from "../../support/backends";
import { scaled } from "../../support/wait";
import { parsePrometheusText } from "../../unit/ops/prometheus-text";

const UNSTORABLE = "unstorable-9c1e";

/** A store that refuses every write whose value holds the marker: an event that cannot be stored, whatever the reason. */
class RefusingMarker extends FaultyStoreAdapter {
  refusals = 0;
  override async set(key: string, value: unknown, ttl?: number): Promise<unknown> {
    if (typeof value === "string" && value.includes(UNSTORABLE)) {
      this.refusals += 1;
      throw new InjectedStoreFault("injected: this value cannot be stored");
    }
    return super.set(key, value, ttl);
  }
}

async function get(port: number | undefined, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port ?? 0}${path}`);
  return { status: response.status, text: await response.text() };
}

function counter(text: string, name: string): number {
  return parsePrometheusText(text).samples.find((x) => x.name === `matrix_agent_bot_${name}`)?.value ?? Number.NaN;
}

jest.setTimeout(scaled(60_000));

describeEachE2eBackend("hostile event content", (backend) => describe.each(MODES)("in %s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("holds up no room: the DM and an allowed sender's hostile message are answered, nothing is refused", async () => {
    s = await Scenario.start({ mode, env: { ALLOWED_USERS: "@alice:localhost,@bob:localhost" }, backend });
    const bob = s.person("bob", "Bob");
    const mallory = s.person("mallory", "Mallory"); // not in ALLOWED_USERS
    const dm = await s.openDm();
    const group = await s.openGroup(bob, [mallory]);

    await mallory.send(group, "m.room.message", hostileContent("Agent Bot: from a stranger"));
    await bob.send(group, "m.room.message", hostileContent("Agent Bot: hostile hello"));
    await s.alice.sendText(dm, "after the poison");

    const [dmAnswer] = await s.waitBotMessages(dm, 1, "the DM answered after the hostile events");
    expect(dmAnswer?.content["body"]).toBe(echoReplyFor("after the poison"));
    const [groupAnswer] = await s.waitBotMessages(group, 1, "bob's hostile message answered");
    expect(String(groupAnswer?.content["body"])).toContain("hostile hello");

    // Nothing was refused on the way: no transaction answered other than 200, no sync batch retried.
    if (mode === "appservice") expect(s.hs.transactions.filter((t) => t.status !== 200)).toEqual([]);
    expect(s.bot.logs.lines().filter((l) => l.msg === "sync batch failed; the token was not advanced, retrying")).toEqual([]);
    await s.expectSteady(() => expect(s.botMessages(group)).toHaveLength(1)); // the stranger is not answered
  });

  it("skips an event the store keeps refusing, answers the other rooms, and shows the refusals in /status, /metrics and /readyz", async () => {
    let store: RefusingMarker | undefined;
    s = await Scenario.start({ mode, env: { ALLOWED_USERS: "@alice:localhost,@bob:localhost" }, backend,
      overrides: { wrapStoreAdapter: (adapter: KeyvStoreAdapter) => (store = new RefusingMarker(adapter)) } });
    const bob = s.person("bob", "Bob");
    const dm = await s.openDm();
    const group = await s.openGroup(bob);

    await bob.sendText(group, `Agent Bot: ${UNSTORABLE}`);
    await s.alice.sendText(dm, "is anyone there?");
    const [answer] = await s.waitBotMessages(dm, 1, "the DM answered while the group's event cannot be stored");
    expect(answer?.content["body"]).toBe(echoReplyFor("is anyone there?"));
    expect(store?.refusals).toBeGreaterThanOrEqual(3);
    const skipped = s.bot.logs.lines().filter((l) => l.msg === "inbound event could not be stored; skipped");
    expect(skipped).toEqual([expect.objectContaining({ roomId: group, reason: expect.stringContaining("InjectedStoreFault") })]);

    const metrics = (await get(s.bot.app.httpPort, "/metrics")).text;
    expect(counter(metrics, "inbound_poisoned_events_total")).toBe(1);
    expect(counter(metrics, "inbound_batches_refused_total")).toBeGreaterThanOrEqual(3);
    const ready = await get(s.bot.app.httpPort, "/readyz");
    expect(JSON.parse(ready.text)).toMatchObject({ checks: { inbound: { ok: true, detail: "inbound events are accepted" } } });

    await s.alice.sendText(dm, "/status");
    const [, status] = await s.waitBotMessages(dm, 2, "the /status answer");
    expect(String(status?.content["body"])).toMatch(/^Incoming since start: 1 event skipped as unstorable, \d+ batches refused for a retry\.$/m);
    await s.expectSteady(() => expect(s.botMessages(group)).toHaveLength(0)); // the skipped message is not answered
  });
}));
