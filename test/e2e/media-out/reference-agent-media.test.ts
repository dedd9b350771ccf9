// The reference agent sees and hears (issue 23), end to end: the bot (homeserver double) runs the reference agent
// in-process against a scripted OpenAI-compatible LLM double on 127.0.0.1 that also serves /audio/transcriptions.
// An image reaches the model as an image_url data URL (LLM_VISION=true); a voice message is transcribed, answered,
// and its transcript folded above the answer; a CSV is read; a binary file is declined in words without asking the
// model; without LLM_VISION the bot says this agent does not read images.
import { MEDIA_TEXTS } from "../../../src/media/texts";
import { startFakeOpenAI, type FakeOpenAI } from "../../support/fake-openai";
import { elfExecutable, oggOpus, pngImage } from "../../support/media-samples";
import { Scenario } from "../../support/scenario";
import { scaled } from "../../support/wait";
import { mediaContent, upload } from "../media/support";

jest.setTimeout(scaled(60_000));

describe("the reference agent reads attachments", () => {
  let s: Scenario | undefined;
  let fake: FakeOpenAI | undefined;
  afterEach(async () => {
    await s?.stop();
    await fake?.close();
    s = undefined;
  });

  async function start(extra: Record<string, string> = {}): Promise<{ w: Scenario; llm: FakeOpenAI; roomId: string }> {
    const llm = (fake = await startFakeOpenAI());
    const w = (s = await Scenario.start({ mode: "client", env: {
      LLM_BASE_URL: llm.baseUrl, LLM_MODEL: "fake-model", LLM_VISION: "true", LLM_TRANSCRIBE_MODEL: "whisper-1", ...extra } }));
    return { w, llm, roomId: await w.openDm() };
  }

  const userContent = (llm: FakeOpenAI, n = 0): unknown => llm.requests[n]?.body.messages?.filter((m) => m.role === "user").at(-1)?.content;

  it("sends an image to the model as an image_url data URL, with its caption", async () => {
    const { w, llm, roomId } = await start();
    llm.next({ kind: "stream", chunks: ["A noisy ", "square."] });
    const png = pngImage(8, 8);
    const mxc = await upload(w, w.alice, png, "image/png", "pic.png");
    await w.alice.send(roomId, "m.room.message", mediaContent("m.image", mxc, "pic.png", { caption: "what is this?", mimetype: "image/png", size: png.length }));
    const [answer] = await w.waitBotMessages(roomId, 1);
    expect(answer?.content["body"]).toBe("A noisy square.");
    expect(userContent(llm)).toEqual([
      { type: "text", text: "Alice: what is this?\n[image: pic.png]" },
      { type: "image_url", image_url: { url: `data:image/png;base64,${png.toString("base64")}` } },
    ]);
  });

  it("transcribes a voice message, answers it, and shows the transcript folded above the answer", async () => {
    const { w, llm, roomId } = await start();
    llm.setTranscript("remind me to water the plants");
    llm.next({ kind: "stream", chunks: ["I will ", "remind you."] });
    const ogg = oggOpus();
    const mxc = await upload(w, w.alice, ogg, "audio/ogg", "Voice message.ogg");
    await w.alice.send(roomId, "m.room.message", mediaContent("m.audio", mxc, "Voice message.ogg",
      { mimetype: "audio/ogg", size: ogg.length, extra: { "org.matrix.msc3245.voice": {} } }));
    const [answer] = await w.waitBotMessages(roomId, 1);
    expect(llm.transcriptions).toHaveLength(1);
    expect(llm.transcriptions[0]).toMatchObject({ model: "whisper-1", filename: "Voice message.ogg" });
    expect(llm.transcriptions[0]?.bytes.equals(ogg)).toBe(true);
    expect(userContent(llm)).toBe("Alice: [voice message: Voice message.ogg, transcribed] remind me to water the plants");
    const html = String(answer?.content["formatted_body"]);
    expect(html).toMatch(/^<details><summary>Transcript of Voice message\.ogg<\/summary>\n<p>remind me to water the plants<\/p>\n<\/details>/);
    expect(html).toContain("I will remind you.");
  });

  it("reads a CSV, and declines a binary file in words without asking the model", async () => {
    const { w, llm, roomId } = await start();
    llm.next({ kind: "stream", chunks: ["Oslo is ", "coldest."] });
    const csv = Buffer.from("city,temp\nOslo,3\nRome,15\n");
    const csvMxc = await upload(w, w.alice, csv, "text/csv", "temps.csv");
    await w.alice.send(roomId, "m.room.message", mediaContent("m.file", csvMxc, "temps.csv", { caption: "which is coldest?", mimetype: "text/csv", size: csv.length }));
    await w.waitBotMessages(roomId, 1);
    expect(userContent(llm)).toBe("Alice: which is coldest?\n[file: temps.csv (text/plain)]\n```\ncity,temp\nOslo,3\nRome,15\n```");

    const elf = elfExecutable();
    const elfMxc = await upload(w, w.alice, elf, "application/octet-stream", "tool.bin");
    await w.alice.send(roomId, "m.room.message", mediaContent("m.file", elfMxc, "tool.bin", { size: elf.length }));
    const [, declined] = await w.waitBotMessages(roomId, 2);
    expect(declined?.content["body"]).toBe("I can't read tool.bin (application/octet-stream): I read images, voice messages and audio, and text files (text, JSON, CSV, markdown).");
    await w.expectSteady(() => expect(llm.requests).toHaveLength(1));
  });

  it("declares what it reads: without LLM_VISION and a transcription model, the bot says images are not read", async () => {
    const { w, llm, roomId } = await start({ LLM_VISION: "false", LLM_TRANSCRIBE_MODEL: "" });
    const png = pngImage(4, 4);
    const mxc = await upload(w, w.alice, png, "image/png", "pic.png");
    await w.alice.send(roomId, "m.room.message", mediaContent("m.image", mxc, "pic.png", { mimetype: "image/png", size: png.length }));
    const [told] = await w.waitBotMessages(roomId, 1);
    expect(told?.content["body"]).toBe(MEDIA_TEXTS.notRead("images", "text and files"));
    await w.expectSteady(() => expect(llm.requests).toHaveLength(0));
  });
});
