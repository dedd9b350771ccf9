// Collects configuration problems so that one message can list every one of them.
import type { z } from "zod";

export type Env = Record<string, string | undefined>;

export interface ConfigProblem {
  readonly variable: string;
  readonly problem: string;
  readonly fix: string;
}

export type LoadResult<C> =
  | { readonly ok: true; readonly config: C }
  | { readonly ok: false; readonly problems: ConfigProblem[]; readonly message: string };

/** Reads a variable; empty (or whitespace-only) counts as unset. Values are trimmed unless `raw`. */
export function readVariable(env: Env, name: string, raw = false): string | undefined {
  const value = env[name];
  if (value === undefined || value.trim() === "") return undefined;
  return raw ? value : value.trim();
}

/** How a value may be quoted back to the operator: never for secrets, never a URL's password. */
export function showValue(value: string, secret: boolean): string {
  if (secret) return "the value";
  const masked = value.replace(/\/\/[^/@\s]*@/, "//…@");
  const short = masked.length > 80 ? `${masked.slice(0, 77)}…` : masked;
  return JSON.stringify(short);
}

export class ProblemList {
  readonly items: ConfigProblem[] = [];

  add(variable: string, problem: string, fix: string): void {
    this.items.push({ variable, problem, fix });
  }

  /**
   * Parses `name` with `schema` when it is set; returns undefined when unset or invalid (recording a
   * problem whose text is the value followed by the schema's message, e.g. `"yes" is not a boolean`).
   */
  parse<T>(
    env: Env,
    name: string,
    schema: z.ZodType<T, string>,
    fix: string,
    options: { secret?: boolean; raw?: boolean } = {},
  ): T | undefined {
    const value = readVariable(env, name, options.raw ?? false);
    if (value === undefined) return undefined;
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const messages = [...new Set(result.error.issues.map((i) => i.message))].join("; ");
    this.add(name, `${showValue(value, options.secret ?? false)} ${messages}`, fix);
    return undefined;
  }
}

/** One human text: a heading line, then one line `VARIABLE: problem. Fix: ...` per problem. No stack trace. */
export function formatProblems(program: string, problems: readonly ConfigProblem[]): string {
  const count = problems.length;
  const lines = problems.map((p) => `${p.variable}: ${endSentence(p.problem)} Fix: ${endSentence(p.fix)}`);
  return [`${program} cannot start: the configuration has ${count} problem${count === 1 ? "" : "s"}:`, ...lines].join("\n");
}

function endSentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
