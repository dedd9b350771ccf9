// Every attachment text the bot posts is quoted in runbook/troubleshooting.md (variable parts as <…>).
import { readFileSync } from "node:fs";
import path from "node:path";
import { MEDIA_TEXTS, formatBytes, readsLabel } from "../../../src/media/texts";
import { ATTACHMENT_TEXTS } from "../../../src/render/attachment-post";

const page = readFileSync(path.join(__dirname, "..", "..", "..", "runbook", "troubleshooting.md"), "utf8").replace(/\\</g, "<").replace(/\\>/g, ">");

describe("attachment texts", () => {
  it.each(Object.entries(MEDIA_TEXTS))("quotes %s in runbook/troubleshooting.md", (_key, text) => {
    const shown = typeof text === "string" ? text : text("\u0000", "\u0000");
    for (const fixed of shown.split("\u0000")) expect(page).toContain(fixed);
  });

  it.each(Object.entries(ATTACHMENT_TEXTS))("quotes the agent-file text %s in runbook/troubleshooting.md", (_key, text) => {
    const shown = typeof text === "string" ? text : text("\u0000");
    for (const fixed of shown.split("\u0000")) expect(page).toContain(fixed);
  });

  it("names sizes and kinds as people read them", () => {
    expect(formatBytes(20_971_520)).toBe("20 MB");
    expect(formatBytes(1_536)).toBe("1.5 KB");
    expect(formatBytes(10)).toBe("10 bytes");
    expect(readsLabel([])).toBe("only text");
    expect(readsLabel(["image"])).toBe("text and images");
    expect(readsLabel(["image", "pdf"])).toBe("text, images and PDFs");
  });
});
