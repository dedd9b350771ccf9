import { Scenario } from "../../support/scenario";
import { addChild, createSpace } from "./support";
it("debug", async () => {
  const s = await Scenario.start({ mode: "client" });
  try {
    const huge = createSpace(s.hs, s.alice.userId, "huge");
    for (let i = 0; i < 10_000; i++) addChild(s.hs, s.alice.userId, huge, `!child${i}:localhost`);
    const dm = await s.openDm();
    const t0 = Date.now();
    await s.alice.invite(huge, s.botUserId);
    await s.waitJoined(huge);
    console.log("joined", Date.now() - t0);
    await s.alice.sendText(dm, "x");
    await s.waitBotMessages(dm, 1, "answer").catch(() => undefined);
    console.log("answered", Date.now() - t0);
    const lines = s.bot.logs.lines().filter((l) => Date.parse(String(l["time"])) >= t0 - 10);
    let last = "";
    for (const l of lines) { const m = `${l["module"]} ${l.msg}`; if (m !== last) console.log(Date.parse(String(l["time"])) - t0, m); last = m; }
  } finally { await s.stop(); }
}, 60000);
