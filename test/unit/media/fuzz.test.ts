// Malformed `url`, `file` and `info` fields (the fault suite's arbitraries) fail only their own event: parsing never
// throws, and what it accepts is what the spec allows.
import fc from "fast-check";
import { parseMediaRef } from "../../../src/media/attachment";
import { mediaMessageContent } from "../../faults/fuzz-arbitraries";

describe("media message content, generated", () => {
  it("is parsed or refused with a reason, never thrown on, and an accepted one is spec-shaped", () => {
    fc.assert(fc.property(mediaMessageContent, (content) => {
      const result = parseMediaRef({ content: content as Record<string, unknown> });
      if (!result.ok) return expect(result.problem).toEqual(expect.any(String));
      const { ref } = result;
      expect(ref.source.mxc.mediaId).toMatch(/^[A-Za-z0-9_-]+$/);
      if (ref.source.kind === "encrypted") {
        expect(ref.source.file.key.k).toHaveLength(32);
        expect(ref.source.file.iv).toHaveLength(16);
        expect(ref.source.file.hashes.sha256).toHaveLength(32);
      }
      if (ref.declaredSize !== undefined) expect(Number.isSafeInteger(ref.declaredSize) && ref.declaredSize >= 0).toBe(true);
      expect(ref.filename.length).toBeGreaterThan(0);
      return undefined;
    }), { numRuns: 2_000, seed: 22 });
  });
});
