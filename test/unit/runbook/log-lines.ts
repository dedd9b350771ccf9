// Finds every log line the bot writes at error or fatal level: each `.error(` / `.fatal(` call in src/ and
// the message it logs (its last string argument). Template parts (`${...}`) become wildcards.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export interface LogCall {
  file: string;
  line: number;
  level: "error" | "fatal";
  /** The message as written, `${…}` parts kept. */
  message: string;
  /** Matches the message with every `${…}` part standing for any text. */
  pattern: RegExp;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith(".ts") ? [full] : [];
  });
}

/** The string literals at the top level of a call's argument list starting at `open` (the "("). */
function topLevelStrings(text: string, open: number): string[] {
  const found: string[] = [];
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      let nested = 0;
      while (j < text.length) {
        const d = text[j];
        if (d === "\\") j += 2;
        else if (c === "`" && d === "$" && text[j + 1] === "{") { nested++; j += 2; }
        else if (c === "`" && d === "}" && nested > 0) { nested--; j++; }
        else if (d === c && nested === 0) break;
        else j++;
      }
      if (depth === 1) found.push(text.slice(i + 1, j));
      i = j;
    } else if (c === "(" || c === "{" || c === "[") depth++;
    else if (c === ")" || c === "}" || c === "]") {
      depth--;
      if (depth === 0) break;
    }
  }
  return found;
}

function toPattern(message: string): RegExp {
  const parts = message.split(/\$\{[^}]*\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(parts.join(".+"));
}

export function errorLogCalls(srcDir: string): LogCall[] {
  const calls: LogCall[] = [];
  for (const file of sourceFiles(srcDir)) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/\.(error|fatal)\(/g)) {
      const strings = topLevelStrings(text, (m.index ?? 0) + m[0].length - 1);
      const message = strings.at(-1);
      if (message === undefined) continue;
      const line = text.slice(0, m.index).split("\n").length;
      calls.push({ file: path.relative(srcDir, file), line, level: m[1] as "error" | "fatal", message, pattern: toPattern(message) });
    }
  }
  return calls;
}
