// The late-key metrics in /metrics' text: unreadable messages by cause (a fixed set, every value shown from the
// start), late decryptions, kept and dropped messages, and the key backup's lag read at scrape time.
import { Metrics, METRIC_PREFIX } from "../../../src/metrics";
import { UNDECRYPTABLE_CAUSES, undecryptableCause } from "../../../src/matrix/crypto";
import { parsePrometheusText, sampleValue } from "../ops/prometheus-text";

describe("late-key metrics", () => {
  it("counts by cause, late decryptions, held and dropped messages, and reads the backup lag when scraped", async () => {
    const all = new Metrics({ processMetrics: false });
    const metrics = all.crypto;
    const scrape = async () => parsePrometheusText(await all.text());
    const p = METRIC_PREFIX;
    let text = await scrape();
    for (const cause of UNDECRYPTABLE_CAUSES) expect(sampleValue(text, `${p}undecryptable_events_total`, { cause })).toBe(0);
    expect(sampleValue(text, `${p}key_backup_lag`)).toBe(0); // backup off

    metrics.undecryptable("missing_key");
    metrics.undecryptable("missing_key");
    metrics.undecryptable("unknown_device");
    metrics.lateDecrypted();
    metrics.undecryptableHeld(3);
    metrics.undecryptableDropped(2, "full");
    let lag = 5;
    metrics.watchBackupLag(() => lag);
    text = await scrape();
    expect(sampleValue(text, `${p}undecryptable_events_total`, { cause: "missing_key" })).toBe(2);
    expect(sampleValue(text, `${p}undecryptable_events_total`, { cause: "unknown_device" })).toBe(1);
    expect(sampleValue(text, `${p}late_decryptions_total`)).toBe(1);
    expect(sampleValue(text, `${p}undecryptable_held`)).toBe(3);
    expect(sampleValue(text, `${p}undecryptable_dropped_total`, { why: "full" })).toBe(2);
    expect(sampleValue(text, `${p}key_backup_lag`)).toBe(5);
    lag = 0;
    expect(sampleValue(await scrape(), `${p}key_backup_lag`)).toBe(0);
  });

  it("names the cause from the crypto machine's DecryptionErrorCode (passed on by the bridge as the error's code)", () => {
    const failed = (code: unknown): Error => Object.assign(new Error("decryptRoomEvent failed"), { code });
    expect([0, 1, 2, 3, 4, 5, 6].map((code) => undecryptableCause(failed(code)))).toEqual(
      ["missing_key", "missing_key", "other", "unknown_device", "unknown_device", "other", "other"]);
    expect(undecryptableCause(new Error("no code"))).toBe("other");
    expect(undecryptableCause("thrown text")).toBe("other");
  });
});
