// How a run frame carries attachments: v1 agents get a placeholder in the text, v2 agents AG-UI content parts,
// inline while small enough and while the frame stays within AGENT_MAX_FRAME_BYTES, else by one-time URL.
import { RunFrameV2Schema, type RunInput } from "../../../src/agent/protocol";
import { runFrameV2, v1Frame } from "../../../src/agent/run-input";
import { PreparedMedia } from "../../../src/media/prepared";

const image = (size: number, name = "cat.png") => new PreparedMedia(Buffer.alloc(size, 1), "image/png", "image", name, false);
const input = (...messages: Array<{ text: string; media?: PreparedMedia }>): RunInput => ({
  messages: messages.map((m, i) => ({ id: `$e${i}`, role: "user" as const, content: m.text, sender: "@alice:example.org", ...(m.media ? { media: m.media } : {}) })),
  context: { roomId: "!r:example.org", isDirect: true },
});

describe("run frames with attachments", () => {
  it("gives a v1 agent the caption and a placeholder, never the bytes", () => {
    const frame = v1Frame({ op: "run", threadId: "t", runId: "$e0", input: input({ text: "look", media: image(10) }) });
    expect(frame.input.messages[0]).toEqual({ id: "$e0", role: "user", content: "look\n[image: cat.png]", sender: "@alice:example.org" });
    expect(JSON.stringify(frame)).not.toContain("AQEB");
  });

  it("gives a v2 agent the caption as a text part and a small image inline, as AG-UI 1.0 parts", () => {
    const offer = jest.fn(() => "http://bot/media?id=x");
    const frame = runFrameV2("t", "$e0", input({ text: "look", media: image(300) }), 1024 * 1024, { inlineMaxBytes: 1000, offer });
    expect(RunFrameV2Schema.safeParse(frame).success).toBe(true);
    expect(frame.input.messages[0]).toMatchObject({ content: [
      { type: "text", text: "look" },
      { type: "image", source: { type: "data", value: Buffer.alloc(300, 1).toString("base64"), mimeType: "image/png" }, metadata: { filename: "cat.png", size: 300 } },
    ] });
    expect(offer).not.toHaveBeenCalled();
  });

  it("sends an image above MEDIA_INLINE_MAX_BYTES by URL, and inlines no more than the frame can hold", () => {
    const offer = jest.fn((m: PreparedMedia) => `http://bot/media?id=${m.filename}`);
    const frame = runFrameV2("t", "$e2", input({ text: "", media: image(5_000, "big.png") }, { text: "", media: image(900, "a.png") }, { text: "", media: image(900, "b.png") }),
      3_000, { inlineMaxBytes: 1_000, offer });
    const sources = frame.input.messages.map((m) => (m.content as Array<{ source: { type: string } }>)[0]?.source.type);
    expect(sources).toEqual(["url", "data", "url"]); // b.png would push the frame past 3,000 bytes
    expect(offer.mock.calls.map(([m]) => m.filename)).toEqual(["big.png", "b.png"]);
    expect(Buffer.byteLength(JSON.stringify(frame))).toBeLessThanOrEqual(3_000);
    expect(frame.input.messages[0]?.content).toEqual([{ type: "image", source: { type: "url", value: "http://bot/media?id=big.png", mimeType: "image/png" },
      metadata: { filename: "big.png", size: 5_000 } }]);
  });

  it("keeps plain text messages as strings", () => {
    const frame = runFrameV2("t", "$e0", input({ text: "hi" }), 1024, undefined);
    expect(frame.input.messages[0]?.content).toBe("hi");
  });
});
