// The reference agent reads attachments as descriptions: the echo brain names what was sent, the LLM brain's
// prompt and stored history keep a placeholder ("[image: cat.png]"), never the bytes.
import { PreparedMedia } from "../../../src/media/prepared";
import { linkOptions, newLink, referenceAgent, runRequest, tearDown, waitFor } from "../agent/support";
import { cleanup, fakeOpenAI, llmEnv, startAgent, tempDataDir } from "../reference-agent/support";
import { pngImage } from "../../support/media-samples";

afterEach(async () => {
  await tearDown();
  await cleanup();
});

async function linkTo(url: string, inlineMaxBytes = 1_000_000) {
  const link = newLink(linkOptions(url, { media: { inlineMaxBytes, offer: (m) => `http://127.0.0.1:1/media?id=${m.filename}` } }));
  await link.start();
  await waitFor(() => link.state() === "up", "link up");
  return link;
}

function withImage(runId: string, caption: string, media: PreparedMedia) {
  const req = runRequest(runId, caption);
  const first = req.input.messages[0];
  if (first) Object.assign(first, { media });
  return req;
}

test("the echo brain names the attachment it got inline, and by URL, with its caption", async () => {
  const agent = await referenceAgent();
  const link = await linkTo(agent.url, 500);
  const png = pngImage(4, 4);
  const texts: string[] = [];
  const small = new PreparedMedia(png, "image/png", "image", "cat.png", false);
  expect(await link.run(withImage("$r1", "look", small), { onTextMessage: (_id, t) => void texts.push(t) })).toEqual({ ok: true });
  const voice = new PreparedMedia(Buffer.alloc(2_000, 1), "audio/ogg", "audio", "Voice message.ogg", true);
  expect(await link.run(withImage("$r2", "", voice), { onTextMessage: (_id, t) => void texts.push(t) })).toEqual({ ok: true });
  expect(texts).toEqual([`You sent an image: cat.png (image/png, ${png.length} bytes)\nYou said: look`,
    "You sent a voice message: Voice message.ogg (audio/ogg, 2000 bytes)"]);
});

test("the LLM brain gets and keeps a placeholder, never the bytes", async () => {
  const fake = await fakeOpenAI();
  fake.next({ kind: "stream", chunks: ["A cat."] });
  fake.next({ kind: "stream", chunks: ["Yes."] });
  const agent = await startAgent(llmEnv(fake, tempDataDir()));
  const link = await linkTo(agent.url);
  const png = pngImage(4, 4);
  expect(await link.run(withImage("$r1", "what is this?", new PreparedMedia(png, "image/png", "image", "cat.png", false)),
    { onTextMessage: () => undefined })).toEqual({ ok: true });
  expect(await link.run(runRequest("$r2", "sure?"), { onTextMessage: () => undefined })).toEqual({ ok: true });
  const second = JSON.stringify(fake.requests[1]?.body.messages);
  expect(second).toContain("Alice: what is this?\\n[image: cat.png]");
  expect(second).toContain("A cat.");
  expect(JSON.stringify(fake.requests)).not.toContain(png.toString("base64").slice(0, 40));
});
