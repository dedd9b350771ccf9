// Where a live message that outgrew one event is frozen: a block boundary first, a code block closed and reopened
// when the cut falls inside it, a single overlong line cut at a space; the head always fits and nothing is lost.
import { cutToFit } from "../../../src/render/cut";

const underBytes = (max: number) => (md: string): boolean => Buffer.byteLength(md) <= max;

test("a block boundary wins over a fuller cut between the lines of a paragraph", () => {
  const text = ["para one line a", "para one line b", "", "para two line a", "para two line b", "para two line c"].join("\n");
  const cut = cutToFit(text, underBytes(70));
  expect(cut).toEqual({ head: "para one line a\npara one line b", restAt: text.indexOf("para two"), restLead: "" });
});

test("a cut inside a code block closes it in the head and reopens it in the rest", () => {
  const code = Array.from({ length: 40 }, (_, i) => `line ${i}`).join("\n");
  const text = `Intro\n\n\`\`\`ts\n${code}\n\`\`\`\n\nAfter.`;
  const cut = cutToFit(text, underBytes(120));
  if (!cut) throw new Error("no cut");
  expect(cut.head.startsWith("Intro\n\n```ts\nline 0")).toBe(true);
  expect(cut.head.endsWith("\n```")).toBe(true);
  expect(cut.restLead).toBe("```ts\n");
  // Head (without its closing fence) and rest are the text, split once.
  expect(cut.head.slice(0, -"\n```".length) + "\n" + text.slice(cut.restAt)).toBe(text);
});

test("a single line longer than any event is cut after a space; when nothing fits there is no cut", () => {
  const line = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ");
  const cut = cutToFit(line, underBytes(100));
  if (!cut) throw new Error("no cut");
  expect(Buffer.byteLength(cut.head)).toBeLessThanOrEqual(100);
  expect(cut.head.endsWith(" ")).toBe(true);
  expect(cut.head + line.slice(cut.restAt)).toBe(line);
  expect(cutToFit(line, () => false)).toBeUndefined();
});

test("a head never starts from text that shows nothing", () => {
  const text = "\n\n\n" + "x".repeat(50) + "\n\nmore";
  const cut = cutToFit(text, underBytes(60));
  expect(cut?.head.trim()).toBe("x".repeat(50));
});
