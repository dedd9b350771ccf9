import fc from "fast-check";
import { type MessageContent, buildMessageContents, cleanAgentText, contentBytes } from "../../../src/matrix/format";
import { DEFAULT_MAX_PART_BYTES } from "../../../src/matrix/format/contents";
import { fenceLines, isSubsequence, textSkeleton, utf8Bytes } from "./markdown-checks";

const MATRIX_LIMIT = 65_536;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Everything a user would notice going wrong with a split message. */
function expectWellSplit(input: string, parts: MessageContent[], maxEventBytes: number, overheadBytes: number): void {
  for (const part of parts) {
    expect(part.body.trim()).not.toBe("");
    expect(utf8Bytes(part) + overheadBytes).toBeLessThanOrEqual(maxEventBytes);
    expect(contentBytes(part, overheadBytes)).toBeLessThanOrEqual(maxEventBytes);
    expect(fenceLines(part.body).length % 2).toBe(0);
    expect(LONE_SURROGATE.test(part.body)).toBe(false);
    if (part.formatted_body !== undefined) expect(part.format).toBe("org.matrix.custom.html");
    else expect(part).not.toHaveProperty("format");
  }
  // A part continuing a line that starts with a fence-like run gets a `\` before it (not a fence there).
  const unescape = (text: string): string => text.replace(/\\(?=[`~])/g, "");
  expect(textSkeleton(unescape(parts.map((p) => p.body).join("\n")))).toBe(textSkeleton(unescape(cleanAgentText(input))));
}

function paragraph(seed: number, chars: number): string {
  const words = ["alpha", "<tag>", "a&b", '"quoted"', "naïve", "中文", "😀", "𝔸", "beta", "gamma"];
  const out: string[] = [];
  let length = 0;
  for (let i = 0; length < chars; i += 1) {
    const word = words[(seed + i * 7) % words.length] ?? "x";
    out.push(word);
    length += word.length + 1;
  }
  return out.join(" ");
}

function codeBlock(info: string, lines: number): string {
  const body = Array.from({ length: lines }, (_, i) => `    if (a[${i}] < b && c > "d") { total += ${i}; } // line ${i}`);
  return ["```" + info, ...body, "```"].join("\n");
}

function bigAnswer(): string {
  const blocks: string[] = [];
  for (let i = 0; blocks.join("\n\n").length < 190_000; i += 1) {
    switch (i % 5) {
      case 0: blocks.push(paragraph(i, 1_500)); break;
      case 1: blocks.push(Array.from({ length: 25 }, (_, k) => `- item ${k}: ${paragraph(i + k, 60)}`).join("\n")); break;
      case 2: blocks.push(codeBlock("python", 150)); break;
      case 3: blocks.push(`## Section ${i}\n\n${paragraph(i, 800)}`); break;
      default: blocks.push(codeBlock("ts title=\"big.ts\"", i === 4 ? 1_500 : 60)); break;
    }
  }
  return blocks.join("\n\n");
}

describe("buildMessageContents", () => {
  it("returns one rich message for a short answer", () => {
    expect(buildMessageContents("**Done.**")).toEqual([
      { msgtype: "m.text", body: "**Done.**", format: "org.matrix.custom.html", formatted_body: "<p><strong>Done.</strong></p>" },
    ]);
  });

  it("returns a plain message when formatting adds nothing, with the requested msgtype", () => {
    expect(buildMessageContents("Done.", { msgtype: "m.notice" })).toEqual([{ msgtype: "m.notice", body: "Done." }]);
  });

  it("cleans agent text before rendering", () => {
    const [content] = buildMessageContents("safe\u202Etxt.exe\u0000");
    expect(content?.body).toBe("safetxt.exe");
  });

  it("returns nothing for text that is empty after cleaning", () => {
    expect(buildMessageContents("")).toEqual([]);
    expect(buildMessageContents(" \n\u200B\u0000\n ")).toEqual([]);
  });

  it("rejects limits that cannot hold a Matrix event or leave no room for content", () => {
    expect(() => buildMessageContents("x", { maxEventBytes: 70_000 })).toThrow();
    expect(() => buildMessageContents("x", { maxEventBytes: 5_000, overheadBytes: 2_000 })).toThrow();
    // Every time (options are remembered once valid, never a refused set), and whatever was asked before.
    expect(buildMessageContents("x", { maxEventBytes: 60_000 })).toHaveLength(1);
    expect(() => buildMessageContents("x", { maxEventBytes: 70_000 })).toThrow();
    expect(() => buildMessageContents("x", { maxEventBytes: "60000" } as unknown as { maxEventBytes: number })).toThrow();
  });

  it("splits a 200 KB answer of paragraphs, lists and long code into parts under 64 KiB with balanced fences", () => {
    const answer = bigAnswer();
    const parts = buildMessageContents(answer);
    expect(parts.length).toBeGreaterThanOrEqual(4);
    for (const part of parts) expect(utf8Bytes(part) + 2_000).toBeLessThan(MATRIX_LIMIT);
    expectWellSplit(answer, parts, DEFAULT_MAX_PART_BYTES, 2_000);
    // The 1,500-line block could not fit one message: its later parts reopen it with the same info string.
    const reopened = parts.filter((p) => p.body.startsWith('```ts title="big.ts"\n'));
    expect(reopened.length).toBeGreaterThanOrEqual(1);
    for (const part of reopened) expect(part.formatted_body).toMatch(/^<pre><code class="language-ts">/);
    expect(parts.some((p) => (p.formatted_body ?? "").includes('<code class="language-python">'))).toBe(true);
  });

  it("keeps a code block whole when it fits in one message, cutting around it instead", () => {
    const code = codeBlock("js", 350);
    const answer = [paragraph(1, 12_000), code, paragraph(2, 12_000)].join("\n\n");
    const parts = buildMessageContents(answer, { maxEventBytes: 60_000 }); // the block fits 60,000, not the default
    expect(parts.length).toBeGreaterThan(1);
    expectWellSplit(answer, parts, 60_000, 2_000);
    expect(parts.filter((p) => p.body.includes("```js"))).toHaveLength(1);
    expect(parts.some((p) => p.body.includes(code))).toBe(true);
  });

  it("prefers cutting between paragraphs and list items to cutting inside them", () => {
    const items = Array.from({ length: 400 }, (_, i) => `- item ${i} ${paragraph(i, 120)}`).join("\n");
    const parts = buildMessageContents(items, { maxEventBytes: 20_000 });
    expect(parts.length).toBeGreaterThan(2);
    expectWellSplit(items, parts, 20_000, 2_000);
    for (const part of parts) expect(part.body).toMatch(/^- item \d+ /);
  });

  it("splits a single 100 KB line without spaces", () => {
    const line = "abcdefghij<>&\"é😀中".repeat(6_000);
    expect(Buffer.byteLength(line, "utf8")).toBeGreaterThan(100_000);
    const parts = buildMessageContents(line);
    expect(parts.length).toBeGreaterThan(1);
    expectWellSplit(line, parts, 60_000, 2_000);
  });

  it("splits a long line inside a code block, reopening the fence", () => {
    const answer = "```json\n" + '{"k":"v"},'.repeat(8_000) + "\n```";
    const parts = buildMessageContents(answer);
    expect(parts.length).toBeGreaterThan(1);
    expectWellSplit(answer, parts, 60_000, 2_000);
    for (const part of parts) expect(part.formatted_body).toMatch(/^<pre><code class="language-json">/);
  });

  it("splits again when rendering inflates a part far beyond the estimate (table cells filled in)", () => {
    const header = `|${"col|".repeat(40)}\n|${"---|".repeat(40)}`;
    const answer = `${header}\n${"|x|\n".repeat(600)}`;
    const parts = buildMessageContents(answer, { maxEventBytes: 30_000 });
    expect(parts.length).toBeGreaterThan(1);
    expectWellSplit(answer, parts, 30_000, 2_000);
    expect(parts[0]?.formatted_body).toMatch(/^<table>/);
  });

  it("keeps long runs of links intact as links across parts", () => {
    const answer = "https://x.co ".repeat(8_000);
    const parts = buildMessageContents(answer);
    expect(parts.length).toBeGreaterThan(1);
    expectWellSplit(answer, parts, 60_000, 2_000);
    for (const part of parts) expect(part.formatted_body).toMatch(/^<p><a href="https:\/\/x\.co">https:\/\/x\.co<\/a>/);
  });

  it("keeps room for the overhead the sender adds", () => {
    const answer = paragraph(3, 30_000);
    const parts = buildMessageContents(answer, { maxEventBytes: 12_000, overheadBytes: 6_000 });
    for (const part of parts) expect(utf8Bytes(part)).toBeLessThanOrEqual(6_000);
    expectWellSplit(answer, parts, 12_000, 6_000);
  });

  it("keeps fences balanced with long fence markers and a closing run longer than a part", () => {
    const marker = "`".repeat(100);
    const answer = `intro\n\n${marker}md\n${"```inner```\nline <x>\n".repeat(400)}${"`".repeat(6_000)}\n\nafter`;
    const parts = buildMessageContents(answer, { maxEventBytes: 6_200 });
    expect(parts.length).toBeGreaterThan(3);
    expectWellSplit(answer, parts, 6_200, 2_000);
    expect(parts.filter((p) => p.body.startsWith(`${marker}md\n`)).length).toBeGreaterThan(1);
  });

  it("closes a fence the agent left open", () => {
    const [content, ...rest] = buildMessageContents("```sh\nrm -rf build");
    expect(rest).toHaveLength(0);
    expect(fenceLines(content?.body ?? "").length % 2).toBe(0);
  });
});

// ---- property: arbitrary markdown-ish answers ----

const chars = fc.constantFrom("a", "b", "z", "Q", "0", "7", " ", "<", ">", "&", '"', "'", "é", "ß", "中", "😀", "𝔸", "\u{1F3F4}", "*", "_", "`", "#", "|", "@room");
const word = fc.string({ unit: chars, minLength: 1, maxLength: 10 });
const line = fc.array(word, { minLength: 1, maxLength: 14 }).map((ws) => ws.join(" "));
const longLine = fc
  .tuple(fc.string({ unit: chars, minLength: 1, maxLength: 30 }), fc.integer({ min: 50, max: 400 }), fc.boolean())
  .map(([chunk, times, spaces]) => {
    const raw = Array.from({ length: times }, () => chunk).join(spaces ? " " : "");
    const line = spaces ? raw : raw.replace(/ /g, "-");
    // A very long run of backticks or tildes is a fence marker too long to repeat at each cut, which
    // the splitter treats as text (covered by the hostile-input property below, not here).
    return /^[`~]{3}/.test(line) && line.length > 200 ? `x${line}` : line;
  });
const paragraphBlock = fc.array(fc.oneof({ weight: 5, arbitrary: line }, { weight: 1, arbitrary: longLine }), { minLength: 1, maxLength: 6 }).map((ls) => ls.join("\n"));
const headingBlock = fc.tuple(fc.integer({ min: 1, max: 6 }), line).map(([level, text]) => `${"#".repeat(level)} ${text}`);
const listBlock = fc
  .tuple(fc.boolean(), fc.array(line, { minLength: 1, maxLength: 12 }))
  .map(([ordered, items]) => items.map((item, i) => `${ordered ? `${i + 1}.` : "-"} ${item}`).join("\n"));
const fenceMarker = fc.constantFrom("```", "````", "~~~");
const infoString = fc.constantFrom("", "ts", "python", " js", 'json title="a <b>"', "c++", "~~~");
const codeLine = fc.oneof({ weight: 6, arbitrary: line.map((l) => `  ${l}`) }, { weight: 1, arbitrary: fc.constant("") }, { weight: 1, arbitrary: longLine });
const codeBlockArb = fc
  .tuple(fenceMarker, infoString, fc.array(codeLine, { minLength: 0, maxLength: 40 }), fc.boolean())
  .map(([marker, info, lines, closed]) => {
    const opener = marker.startsWith("`") && info.includes("`") ? marker : marker + (marker.startsWith("`") ? info : info.replace(/~/g, ""));
    return [opener, ...lines, ...(closed ? [marker] : [])].join("\n");
  });
const block = fc.oneof(
  { weight: 4, arbitrary: paragraphBlock },
  { weight: 1, arbitrary: headingBlock },
  { weight: 2, arbitrary: listBlock },
  { weight: 3, arbitrary: codeBlockArb },
);
const document = fc
  .tuple(fc.array(block, { minLength: 1, maxLength: 20 }), fc.constantFrom("\n\n", "\n", "\n\n\n"))
  .map(([blocks, separator]) => blocks.join(separator));

describe("buildMessageContents properties", () => {
  it("every part is non-empty, under the byte limit, has balanced fences, and the text survives in order", () => {
    fc.assert(
      fc.property(document, fc.integer({ min: 6_100, max: 16_000 }), (answer, maxEventBytes) => {
        const parts = buildMessageContents(answer, { maxEventBytes, overheadBytes: 2_000 });
        if (cleanAgentText(answer).trim() === "") expect(parts).toEqual([]);
        expectWellSplit(answer, parts, maxEventBytes, 2_000);
      }),
      { numRuns: 80 },
    );
  });
});

const nastyUnit = fc.constantFrom(
  "`", "~", "```", "~~~", "````", " ", "   ", "    ", "\t", "\n", "\n\n", "\r\n", "#", "- ", "1. ", "> ", "|", "---",
  "a", "word ", "<", "&", '"', "😀", "\u202E", "\u0000", "@room", "https://a.example/x", "**", "_", "[x](y)", "![i](mxc://s/m)",
);
const nastyRun = fc.tuple(nastyUnit, fc.integer({ min: 1, max: 300 })).map(([u, n]) => u.repeat(n));
const nastyText = fc.array(fc.oneof({ weight: 4, arbitrary: nastyUnit }, { weight: 1, arbitrary: nastyRun }), { maxLength: 400 }).map((us) => us.join(""));

describe("buildMessageContents on hostile input", () => {
  it("never throws, never sends an empty part, keeps every part under the limit, and loses no text", () => {
    fc.assert(
      fc.property(nastyText, fc.integer({ min: 6_100, max: 12_000 }), (answer, maxEventBytes) => {
        const parts = buildMessageContents(answer, { maxEventBytes });
        for (const part of parts) {
          expect(part.body.trim()).not.toBe("");
          expect(contentBytes(part, 2_000)).toBeLessThanOrEqual(maxEventBytes);
        }
        // Reopened fences repeat their info string, a continued line may get a `\` before a fence-like
        // run: the answer's text must still all be there, in order.
        const strip = (text: string): string => text.replace(/[\s`~\\\u2060]/gu, "");
        expect(isSubsequence(strip(cleanAgentText(answer)), strip(parts.map((p) => p.body).join("")))).toBe(true);
      }),
      { numRuns: 120 },
    );
  });
});
