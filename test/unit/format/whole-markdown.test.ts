// wholeMarkdown (src/matrix/format/split.ts): the markdown as one part, as the splitter makes it with no budget; one
// plain line skips the splitter's pieces.
import fc from "fast-check";
import { buildMessageContents } from "../../../src/matrix/format";
import { splitMarkdown, wholeMarkdown } from "../../../src/matrix/format/split";

test("a short answer is its line without trailing whitespace; blank is nothing; fences still closed", () => {
  expect(wholeMarkdown("ok")).toBe("ok");
  expect(wholeMarkdown("  ok  \t")).toBe("  ok");
  expect(wholeMarkdown(" \t ")).toBeUndefined();
  expect(wholeMarkdown("")).toBeUndefined();
  expect(wholeMarkdown("```ts\nx")).toBe("```ts\nx\n```");
  expect(buildMessageContents("ok")).toEqual([{ msgtype: "m.text", body: "ok" }]);
});

test("property: the same as the splitter without a budget, for any text", () => {
  const piece = fc.constantFrom("ok", " ", "\t", "\n", "`", "```", "~~~", "\u2028", "\u00a0", "\r", "# h", "- a", "\\", "@room", "<b>", "é", "\ud83d\ude00");
  const text = fc.oneof(fc.string(), fc.array(piece, { maxLength: 12 }).map((a) => a.join("")));
  fc.assert(fc.property(text, (md) => {
    expect(wholeMarkdown(md)).toBe(splitMarkdown(md, Number.POSITIVE_INFINITY)[0]);
  }), { numRuns: 5000 });
});
