// Files from the agent (issue 23), end to end: the real bot against the homeserver double and a scripted v2 agent
// sending CUSTOM matrix.attachment; the posted message read and its file downloaded back as a client would.
import { ATTACHMENT_TEXTS } from "../../../src/render/attachment-post";
import { oggOpus, pngImage } from "../../support/media-samples";
import { Scenario } from "../../support/scenario";
import { closeScriptedAgents, startScriptedAgent, type ScriptedAgent } from "../../support/scripted-agent";
import { answerWithFiles, downloadMxc, type OutFile } from "./support";

describe("files from the agent are posted", () => {
  let s: Scenario;
  afterEach(async () => {
    await s?.stop();
    await closeScriptedAgents();
  });

  const sending = (files: OutFile[], texts: string[] = []): Promise<ScriptedAgent> =>
    startScriptedAgent({ protocol: 2, onFrame: (conn, f) => f.op === "run" && answerWithFiles(conn, String(f.runId), files, texts) });

  it("uploads the agent's PNG and posts it as one m.image with its size and dimensions, bytes identical", async () => {
    const png = pngImage(40, 30);
    const agent = await sending([{ filename: "chart.png", mimeType: "image/png", bytes: png }], ["Here is the chart."]);
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "draw me a chart");
    const [text, image] = await s.waitBotMessages(roomId, 2);
    expect(text?.content["body"]).toBe("Here is the chart.");
    expect(image?.content).toMatchObject({ msgtype: "m.image", body: "chart.png", filename: "chart.png",
      info: { mimetype: "image/png", size: png.length, w: 40, h: 30 }, url: expect.stringMatching(/^mxc:\/\//) });
    expect((await downloadMxc(s.hs.url, String(image?.content["url"]))).equals(png)).toBe(true);
    await s.expectSteady(() => expect(s.botMessages(roomId)).toHaveLength(2));
  });

  it("posts audio as m.audio and a CSV as m.file with the agent's type, in the question's thread", async () => {
    const csv = Buffer.from("city,temp\nOslo,3\n");
    const ogg = oggOpus();
    const agent = await sending([{ filename: "data.csv", mimeType: "text/csv", bytes: csv }, { filename: "hello.ogg", mimeType: "audio/ogg", bytes: ogg }]);
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url } });
    const roomId = await s.openGroup(s.alice, [s.person("bob", "Bob")]);
    const root = await s.alice.sendText(roomId, "a thread");
    await s.alice.send(roomId, "m.room.message", { msgtype: "m.text", body: "Agent Bot: files please",
      "m.relates_to": { rel_type: "m.thread", event_id: root, is_falling_back: true, "m.in_reply_to": { event_id: root } } });
    const [file, audio] = await s.waitBotMessages(roomId, 2);
    expect(file?.content).toMatchObject({ msgtype: "m.file", filename: "data.csv", info: { mimetype: "text/csv", size: csv.length } });
    expect(audio?.content).toMatchObject({ msgtype: "m.audio", filename: "hello.ogg", info: { mimetype: "audio/opus", size: ogg.length } });
    for (const m of [file, audio]) expect(m?.content["m.relates_to"]).toMatchObject({ rel_type: "m.thread", event_id: root });
    expect((await downloadMxc(s.hs.url, String(file?.content["url"]))).equals(csv)).toBe(true);
    await s.expectSteady(() => expect(s.botMessages(roomId)).toHaveLength(2));
  });

  it("refuses a file over MEDIA_OUT_MAX_BYTES, and a malformed one, in words; uploads nothing", async () => {
    const agent = await startScriptedAgent({ protocol: 2, onFrame: (conn, f) => {
      if (f.op !== "run") return;
      const runId = String(f.runId);
      conn.event(runId, { type: "RUN_STARTED", threadId: conn.threadOf(runId), runId });
      conn.event(runId, { type: "CUSTOM", name: "matrix.attachment", value: { filename: "big.bin", mimeType: "application/octet-stream", data: Buffer.alloc(5000).toString("base64") } });
      conn.event(runId, { type: "CUSTOM", name: "matrix.attachment", value: { filename: "x.png", mimeType: "image/png", url: "http://127.0.0.1:1/x.png" } });
      conn.event(runId, { type: "RUN_FINISHED", threadId: conn.threadOf(runId), runId });
    } });
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, MEDIA_OUT_MAX_BYTES: "4096" } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "send files");
    const told = await s.waitBotMessages(roomId, 2);
    expect(told.map((m) => m.content["body"])).toEqual([ATTACHMENT_TEXTS.tooLarge("4 KB"), ATTACHMENT_TEXTS.malformed]);
    expect(s.hs.requests.filter((r) => r.path.startsWith("/_matrix/media/v3/upload"))).toEqual([]);
  });
});
