// MediaIntake: what is checked before a download, the memory it holds (MEDIA_MAX_INFLIGHT_BYTES) until the turn is
// settled, and what the user is told.
import pino from "pino";
import type { MediaRef } from "../../../src/media/attachment";
import { ByteBudget } from "../../../src/media/budget";
import type { DownloadResult } from "../../../src/media/download";
import { MediaIntake } from "../../../src/media/intake";
import { MEDIA_TEXTS } from "../../../src/media/texts";
import { pngImage } from "../../support/media-samples";

const where = { roomId: "!r:x", eventId: "$e" };
const image = (over: Partial<MediaRef> = {}): MediaRef => ({
  msgtype: "m.image", voice: false, source: { kind: "plain", mxc: { serverName: "x", mediaId: "m" } }, filename: "cat.png", ...over,
});

function intake(budget: ByteBudget, download: (limit: number) => Promise<DownloadResult>, kinds = { image: true }) {
  const calls: number[] = [];
  const it = new MediaIntake({ downloader: { download: (_mxc, limit) => (calls.push(limit), download(limit)) }, budget, maxBytes: 1_000,
    log: pino({ level: "silent" }), capabilities: () => ({ multimodal: { input: kinds } }) });
  return { it, calls };
}

describe("MediaIntake", () => {
  it("refuses a declared size above MEDIA_MAX_BYTES without downloading", async () => {
    const { it: intakeOf, calls } = intake(new ByteBudget(1_000), async () => ({ ok: true, bytes: pngImage() }));
    expect(await intakeOf.prepare(image({ declaredSize: 5_000 }), where)).toEqual({ ok: false, notice: MEDIA_TEXTS.tooLarge("1000 bytes"), reason: "declared too large" });
    expect(calls).toEqual([]);
  });

  it("holds the bytes' share of the budget until the turn releases them; the next download waits for it", async () => {
    const budget = new ByteBudget(1_000);
    const png = pngImage();
    const { it: intakeOf, calls } = intake(budget, async () => ({ ok: true, bytes: png }));
    const first = await intakeOf.prepare(image(), where); // size unknown: reserves MEDIA_MAX_BYTES, keeps what it read
    expect(first.ok && first.media.bytes).toEqual(png);
    expect(budget.inUse).toBe(png.length);
    const big = await budget.reserve(1_000 - png.length);
    let second: unknown;
    const pending = intakeOf.prepare(image({ declaredSize: 500 }), where).then((r) => (second = r));
    await new Promise((r) => setImmediate(r));
    expect(second).toBeUndefined();
    expect(calls).toHaveLength(1);
    big?.release();
    await pending;
    expect(calls).toEqual([1_000, 500]); // the second read no more than it declared
    if (first.ok) first.media.release();
    expect(budget.inUse).toBe(png.length);
  });

  it("tells when the bytes are of a kind the agent does not read, and gives the memory back", async () => {
    const budget = new ByteBudget(1_000);
    const { it: intakeOf } = intake(budget, async () => ({ ok: true, bytes: Buffer.from("%PDF-1.4\n") }));
    expect(await intakeOf.prepare(image(), where)).toMatchObject({ ok: false, notice: "I can't pass PDFs on: this agent reads text and images." });
    expect(budget.inUse).toBe(0);
  });

  it("calls a file larger than its declared size malformed, and a 404 gone", async () => {
    const { it: intakeOf } = intake(new ByteBudget(1_000), async (limit) => (limit < 1_000
      ? { ok: false, reason: "over_limit", detail: "more" } : { ok: false, reason: "not_found", detail: "404 M_NOT_FOUND" }));
    expect(await intakeOf.prepare(image({ declaredSize: 10 }), where)).toMatchObject({ ok: false, notice: MEDIA_TEXTS.malformed });
    expect(await intakeOf.prepare(image(), where)).toMatchObject({ ok: false, notice: MEDIA_TEXTS.notFound });
  });
});
