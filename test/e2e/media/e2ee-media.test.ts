// Encrypted attachments from a real encrypting client (matrix-js-sdk 34 with Rust crypto, encrypting files with
// Element's matrix-encrypt-attachment) to the built bot with MATRIX_E2EE=true: the image reaches the agent decrypted,
// byte for byte; a ciphertext altered on the way fails its SHA-256 check and is refused and told, encrypted.
import { decryptAttachment, type IEncryptedFile } from "matrix-encrypt-attachment";
import { MEDIA_TEXTS } from "../../../src/media/texts";
import { INTRO_MARKER } from "../../../src/rooms/lifecycle/records";
import { EncryptedDm } from "../../support/encrypted-dm";
import type { PeerMessage } from "../../support/js-sdk-peer";
import { pngImage } from "../../support/media-samples";
import { startScriptedAgent, type ScriptedAgent } from "../../support/scripted-agent";
import { expectSteady, waitForBotSettled } from "../../support/bot-idle";
import { scaled } from "../../support/wait";
import { ALL_KINDS, partsOf } from "./support";
import { answerWithFiles, downloadMxc } from "../media-out/support";

type EncryptedFile = IEncryptedFile & { url: string };

/** The agent's file (issue 23), posted encrypted. */
const CHART = pngImage(32, 20, 3);

jest.setTimeout(scaled(60_000));

describe("encrypted attachments with a real matrix-js-sdk client", () => {
  let agent: ScriptedAgent;
  const w = new EncryptedDm();
  let alice: EncryptedDm["alice"];
  let dm: string;

  const fromBot = (ms: PeerMessage[]): PeerMessage[] => ms.filter((m) => m.sender === w.botUserId && m.content[INTRO_MARKER] !== true);

  beforeAll(async () => {
    await w.start(async () => agent = await startScriptedAgent({ protocol: 2, capabilities: ALL_KINDS, onFrame: (conn, f) => {
      if (f.op !== "run") return;
      if (partsOf(f)[0]?.text === "send me the chart") answerWithFiles(conn, String(f.runId), [{ filename: "chart.png", mimeType: "image/png", bytes: CHART }]);
      else conn.answer(String(f.runId), "received");
    } }));
    alice = w.alice;
    dm = w.room;
  });
  afterAll(() => w.stop());

  it("decrypts an encrypted image and hands the agent the same bytes, with its caption", async () => {
    const png = pngImage(30, 30);
    await alice.sendEncryptedFile(dm, { msgtype: "m.image", filename: "secret.png", mimetype: "image/png", bytes: png, caption: "keep this between us" });
    await alice.waitMessages(dm, (ms) => fromBot(ms).find((m) => m.content["body"] === "received"), "the answer");
    const [caption, image] = partsOf(agent.runs()[0]);
    expect(caption).toEqual({ type: "text", text: "keep this between us" });
    expect(image).toMatchObject({ type: "image", source: { type: "data", mimeType: "image/png" }, metadata: { filename: "secret.png" } });
    expect(Buffer.from(image?.source?.value ?? "", "base64").equals(png)).toBe(true);
    // The homeserver only ever held ciphertext: the event is m.room.encrypted and the stored file is not the PNG.
    expect(w.hs.sent({ roomId: dm, sender: alice.userId }).map((e) => e.type)).not.toContain("m.room.message");
  });

  it("refuses an attachment whose ciphertext was altered, and tells the sender in the encrypted room", async () => {
    await alice.sendEncryptedFile(dm, { msgtype: "m.image", filename: "altered.png", mimetype: "image/png", bytes: pngImage(10, 10), tamper: true });
    const told = await alice.waitMessages(dm, (ms) => fromBot(ms).find((m) => m.content["body"] === MEDIA_TEXTS.integrity), "the integrity notice");
    expect(told).toMatchObject({ wireType: "m.room.encrypted", decryptionFailure: false });
    await expectSteady(() => waitForBotSettled(w.hs, { syncUserId: w.botUserId }, w.bot), () => expect(agent.runs()).toHaveLength(1));
    await w.hs.waitFor(() => w.bot.logs.lines().some((l) => l.msg === "attachment not passed to the agent" && /SHA-256 mismatch/.test(String(l["reason"]))),
      { what: "the refusal logged" });
  });

  it("posts the agent's PNG encrypted: an m.image whose EncryptedFile the client decrypts to the same bytes", async () => {
    await alice.send(dm, "send me the chart");
    const image = await alice.waitMessages(dm, (ms) => fromBot(ms).find((m) => m.content["msgtype"] === "m.image"), "the encrypted image");
    expect(image).toMatchObject({ wireType: "m.room.encrypted", decryptionFailure: false,
      content: { body: "chart.png", info: { mimetype: "image/png", size: CHART.length, w: 32, h: 20 } } });
    expect(image.content["url"]).toBeUndefined();
    const file = image.content["file"] as EncryptedFile;
    const ciphertext = await downloadMxc(w.hs.url, file.url);
    expect(ciphertext.equals(CHART)).toBe(false); // the homeserver holds ciphertext only
    const clear = Buffer.from(await decryptAttachment(ciphertext.buffer.slice(ciphertext.byteOffset, ciphertext.byteOffset + ciphertext.length) as ArrayBuffer, file));
    expect(clear.equals(CHART)).toBe(true);
  });
});
