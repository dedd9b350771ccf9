import { Scenario } from "../../support/scenario";
import { addChild, createSpace } from "./support";
it("debug", async () => {
  const s = await Scenario.start({ mode: "client", env: { LOG_LEVEL: "debug" } });
  try {
    const huge = createSpace(s.hs, s.alice.userId, "huge");
    for (let i = 0; i < 10_000; i++) addChild(s.hs, s.alice.userId, huge, `!child${i}:localhost`);
    const dm = await s.openDm();
    const t0 = Date.now();
    await s.alice.invite(huge, s.botUserId);
    await s.waitJoined(huge);
    console.log("joined", Date.now() - t0);
    await s.alice.sendText(dm, "x");
    await s.hs.waitFor(() => s.botMessages(dm).length > 0, { timeoutMs: 90000 });
    console.log("answered", Date.now() - t0);
    const syncs = s.hs.requests.filter((r) => r.path.endsWith("/sync") && r.at >= t0).map((r) => r.at - t0);
    console.log("sync requests at", syncs.join(" "));
    const msgs = s.hs.requests.filter((r) => r.path.includes("/messages") && r.at >= t0).map((r) => r.at - t0);
    console.log("messages at", msgs.join(" "));
    const joins = s.hs.requests.filter((r) => r.path.includes("/join/!child") && r.at >= t0).map((r) => r.at - t0);
    console.log("child joins", joins.length, joins[0], joins.at(-1));
  } finally { await s.stop(); }
}, 120000);
