// Pictures, files and voice messages reach the agent (issue 22), end to end: the real bot against the homeserver
// double, a scripted v2 agent that records what it got.
import { MEDIA_TEXTS } from "../../../src/media/texts";
import { elfExecutable, pngImage, pngOfAtLeast, windowsExecutable } from "../../support/media-samples";
import { Scenario } from "../../support/scenario";
import { closeScriptedAgents, startScriptedAgent, type ScriptedAgent } from "../../support/scripted-agent";
import { ALL_KINDS, IMAGES_ONLY, downloadsSeen, mediaContent, partsOf, upload } from "./support";

describe("attachments reach the agent", () => {
  let s: Scenario;
  afterEach(async () => {
    await s?.stop();
    await closeScriptedAgents();
  });

  const answering = (capabilities: Record<string, unknown>, protocol: 1 | 2 = 2): Promise<ScriptedAgent> =>
    startScriptedAgent({ protocol, capabilities, onFrame: (conn, f) => f.op === "run" && conn.answer(String(f.runId), "got it") });

  it("sends an image as the same bytes with the type its bytes prove, and the caption beside it", async () => {
    const agent = await answering(ALL_KINDS);
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url } });
    const roomId = await s.openDm();
    const png = pngImage(20, 20);
    const mxc = await upload(s, s.alice, png, "image/jpeg", "photo.jpg"); // labelled JPEG, is a PNG
    await s.alice.send(roomId, "m.room.message", mediaContent("m.image", mxc, "photo.jpg", { caption: "what is this?", mimetype: "image/jpeg", size: png.length }));
    await s.waitBotMessages(roomId, 1);
    const [text, image] = partsOf(agent.runs()[0]);
    expect(text).toEqual({ type: "text", text: "what is this?" });
    expect(image).toMatchObject({ type: "image", source: { type: "data", mimeType: "image/png" }, metadata: { filename: "photo.jpg", size: png.length } });
    expect(Buffer.from(image?.source?.value ?? "", "base64").equals(png)).toBe(true);
    expect(downloadsSeen(s)).toEqual(["authenticated"]);
  });

  it("sends a large image by the bot's one-time URL, which serves the bytes once", async () => {
    const fetched: Array<{ status: number; type: string | null; bytes: Buffer }> = [];
    const agent = await startScriptedAgent({ protocol: 2, capabilities: ALL_KINDS, onFrame: (conn, f) => {
      if (f.op !== "run") return;
      const url = partsOf(f)[0]?.source?.value ?? "";
      void (async () => {
        for (let i = 0; i < 2; i++) {
          const res = await fetch(url);
          fetched.push({ status: res.status, type: res.headers.get("content-type"), bytes: Buffer.from(await res.arrayBuffer()) });
        }
        conn.answer(String(f.runId), "seen");
      })();
    } });
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, MEDIA_INLINE_MAX_BYTES: "4096" } });
    const roomId = await s.openDm();
    const png = pngOfAtLeast(200_000);
    const mxc = await upload(s, s.alice, png, "image/png", "big.png");
    await s.alice.send(roomId, "m.room.message", mediaContent("m.image", mxc, "big.png", { mimetype: "image/png", size: png.length }));
    const [answer] = await s.waitBotMessages(roomId, 1);
    expect(answer?.content["body"]).toBe("seen");
    expect(partsOf(agent.runs()[0])).toEqual([{ type: "image", source: { type: "url", value: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/media\?/), mimeType: "image/png" },
      metadata: { filename: "big.png", size: png.length } }]);
    expect(fetched[0]).toMatchObject({ status: 200, type: "image/png" });
    expect(fetched[0]?.bytes.equals(png)).toBe(true);
    expect(fetched[1]?.status).toBe(410);
    expect(Buffer.byteLength(JSON.stringify(agent.runs()[0]))).toBeLessThan(4096);
  });

  it("tells the limit for an oversized file and never reads it whole (undeclared size), or at all (declared)", async () => {
    const agent = await answering(ALL_KINDS);
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, MEDIA_MAX_BYTES: "1048576", MEDIA_MAX_INFLIGHT_BYTES: "1048576" } });
    const roomId = await s.openDm();
    const big = Buffer.alloc(48 * 1024 * 1024, 3);
    const undeclared = s.hs.uploadMedia(s.alice.userId, big, "application/octet-stream", "dump.bin");
    await s.alice.send(roomId, "m.room.message", mediaContent("m.file", undeclared, "dump.bin"));
    const [told] = await s.waitBotMessages(roomId, 1);
    expect(told?.content["body"]).toBe(MEDIA_TEXTS.tooLarge("1 MB"));
    const served = await s.hs.waitFor(() => { const m = s.hs.mediaServed(undeclared); return m.abandoned === 1 && m; }, { what: "the download abandoned" });
    expect(served.downloads).toBe(0);
    expect(served.bytesSent).toBeLessThan(big.length / 2);

    const declared = s.hs.uploadMedia(s.alice.userId, big, "application/octet-stream", "dump2.bin");
    await s.alice.send(roomId, "m.room.message", mediaContent("m.file", declared, "dump2.bin", { size: big.length }));
    await s.waitBotMessages(roomId, 2);
    expect(s.hs.mediaServed(declared)).toEqual({ downloads: 0, abandoned: 0, bytesSent: 0 });
    expect(downloadsSeen(s)).toHaveLength(1);
    expect(agent.runs()).toEqual([]);
  });

  it("works through the legacy endpoint on a homeserver without authenticated media (as Synapse 1.67)", async () => {
    const agent = await answering(ALL_KINDS);
    s = await Scenario.start({ mode: "appservice", env: { AGENT_URL: agent.url }, homeserver: { authenticatedMedia: false } });
    const roomId = await s.openDm();
    const png = pngImage(3, 3);
    const mxc = await upload(s, s.alice, png, "image/png", "cat.png");
    await s.alice.send(roomId, "m.room.message", mediaContent("m.image", mxc, "cat.png"));
    await s.waitBotMessages(roomId, 1);
    expect(Buffer.from(partsOf(agent.runs()[0])[0]?.source?.value ?? "", "base64").equals(png)).toBe(true);
    expect(downloadsSeen(s)).toEqual(["legacy"]);
  });

  it("tells which kinds the agent reads: a voice message is not downloaded, an executable labelled as an image is a file", async () => {
    const agent = await answering(IMAGES_ONLY);
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url } });
    const roomId = await s.openDm();
    const voice = s.hs.uploadMedia(s.alice.userId, Buffer.alloc(100, 1), "audio/ogg", "Voice message.ogg");
    await s.alice.send(roomId, "m.room.message", mediaContent("m.audio", voice, "Voice message.ogg", { mimetype: "audio/ogg", extra: { "org.matrix.msc3245.voice": {} } }));
    const [first] = await s.waitBotMessages(roomId, 1);
    expect(first?.content["body"]).toBe("I can't pass voice messages on: this agent reads text and images.");
    expect(downloadsSeen(s)).toEqual([]);
    for (const [name, bytes] of [["setup.png", windowsExecutable()], ["tool.png", elfExecutable()]] as const) {
      const mxc = await upload(s, s.alice, bytes, "image/png", name);
      await s.alice.send(roomId, "m.room.message", mediaContent("m.image", mxc, name, { mimetype: "image/png" }));
    }
    const told = await s.waitBotMessages(roomId, 3);
    expect(told.slice(1).map((m) => m.content["body"])).toEqual(["I can't pass files on: this agent reads text and images.",
      "I can't pass files on: this agent reads text and images."]);
    expect(agent.runs()).toEqual([]);
  });

  it("fails only the event whose url, file or info is malformed: the next picture is passed on", async () => {
    const agent = await answering(ALL_KINDS);
    s = await Scenario.start({ mode: "appservice", env: { AGENT_URL: agent.url } });
    const roomId = await s.openDm();
    const badFile = { url: "mxc://localhost/x", key: { kty: "oct", alg: "A256CTR", key_ops: ["decrypt"], k: "AAAA", ext: true }, iv: "x", hashes: {}, v: "v2" };
    for (const content of [
      { msgtype: "m.image", body: "a.png", url: "https://elsewhere.example/a.png" },
      { msgtype: "m.file", body: "b.bin", file: badFile },
      { msgtype: "m.video", body: "c.mp4", url: "mxc://localhost/c", info: "large" },
    ]) await s.alice.send(roomId, "m.room.message", content);
    const png = pngImage(2, 2);
    const mxc = await upload(s, s.alice, png, "image/png", "good.png");
    await s.alice.send(roomId, "m.room.message", mediaContent("m.image", mxc, "good.png"));
    const messages = await s.waitBotMessages(roomId, 4);
    expect(messages.map((m) => m.content["body"])).toEqual([MEDIA_TEXTS.malformed, MEDIA_TEXTS.malformed, MEDIA_TEXTS.malformed, "got it"]);
    expect(agent.runs()).toHaveLength(1);
    expect(downloadsSeen(s)).toEqual(["authenticated"]);
  });

  it("tells a v1 agent's users that it reads only text", async () => {
    const agent = await answering({}, 1);
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url } });
    const roomId = await s.openDm();
    const mxc = await upload(s, s.alice, pngImage(), "image/png", "cat.png");
    await s.alice.send(roomId, "m.room.message", mediaContent("m.image", mxc, "cat.png"));
    const [told] = await s.waitBotMessages(roomId, 1);
    expect(told?.content["body"]).toBe("I can't pass images on: this agent reads only text.");
    expect(agent.runs()).toEqual([]);
  });

  it("answers through the built-in reference agent, which names what it got", async () => {
    s = await Scenario.start({ mode: "appservice" });
    const roomId = await s.openDm();
    const png = pngImage(5, 5);
    const mxc = await upload(s, s.alice, png, "image/png", "cat.png");
    await s.alice.send(roomId, "m.room.message", mediaContent("m.image", mxc, "cat.png", { mimetype: "image/png", size: png.length }));
    const [answer] = await s.waitBotMessages(roomId, 1);
    expect(answer?.content["body"]).toBe(`You sent an image: cat.png (image/png, ${png.length} bytes)`);
  });
});
