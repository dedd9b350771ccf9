// Independent checks on markdown parts (CommonMark fence rules, written apart from the splitter).

const OPENER = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const CLOSER = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;

/** Lines that open or close a fenced code block, by CommonMark's rules for top-level fences. */
export function fenceLines(md: string): string[] {
  const found: string[] = [];
  let open: string | undefined;
  for (const line of md.split("\n")) {
    if (open === undefined) {
      const m = OPENER.exec(line);
      const marker = m?.[1];
      if (marker !== undefined && !(marker.startsWith("`") && (m?.[2] ?? "").includes("`"))) {
        open = marker;
        found.push(line);
      }
    } else {
      const m = CLOSER.exec(line);
      const marker = m?.[1];
      if (marker !== undefined && marker[0] === open[0] && marker.length >= open.length) {
        open = undefined;
        found.push(line);
      }
    }
  }
  return found;
}

/** What must survive splitting: the text without fence lines, whitespace, or our @room guard. */
export function textSkeleton(md: string): string {
  return md
    .split("\n")
    .filter((line) => !/^ {0,3}(?:`{3,}|~{3,})/.test(line))
    .join("")
    .replace(/[\s\u2060]/gu, "");
}

export function utf8Bytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}

/** True when `needle` occurs in `haystack` in order, possibly with other characters in between. */
export function isSubsequence(needle: string, haystack: string): boolean {
  let at = 0;
  for (const ch of haystack) {
    if (at < needle.length && needle.startsWith(ch, at)) at += ch.length;
  }
  return at === needle.length;
}
