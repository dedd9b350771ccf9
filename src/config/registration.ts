// Reads and validates the appservice registration YAML and the credentials saved by `npm run login`.
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import type { ProblemList } from "./problems";
import { credentialsSchema, registrationSchema, type Credentials, type Registration } from "./schema";

export interface FileAccess {
  readonly readFile: (path: string) => string;
  readonly fileExists: (path: string) => boolean;
}

const MAX_ISSUES_LISTED = 10;

function fieldPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    text += typeof part === "number" ? `[${part}]` : `${text === "" ? "" : "."}${String(part)}`;
  }
  return text;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = fieldPath(issue.path);
  if (field === "") return "is not a mapping of registration fields";
  if (issue.code === "invalid_type" && issue.input === undefined) return `has no field "${field}"`;
  return `has an invalid field "${field}" (${issue.message})`;
}

function readText(path: string, files: FileAccess): { text: string } | { error: string } {
  if (!files.fileExists(path)) return { error: `names ${path}, which does not exist` };
  try {
    return { text: files.readFile(path) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { error: `names ${path}, which cannot be read${typeof code === "string" ? ` (${code})` : ""}` };
  }
}

function parseYamlText(text: string): { value: unknown } | { error: string } {
  try {
    return { value: parseYaml(text) as unknown };
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
    return { error: `is not valid YAML: ${first}` };
  }
}

/** Loads the registration at `path` (absolute), recording problems under MATRIX_REGISTRATION. */
export function loadRegistration(path: string, files: FileAccess, problems: ProblemList): Registration | undefined {
  const variable = "MATRIX_REGISTRATION";
  const fix =
    "point MATRIX_REGISTRATION at the registration YAML you gave your homeserver " +
    "(it needs id, url, as_token, hs_token, sender_localpart and namespaces)";
  const read = readText(path, files);
  if ("error" in read) {
    problems.add(variable, read.error, fix);
    return undefined;
  }
  const parsed = parseYamlText(read.text);
  if ("error" in parsed) {
    problems.add(variable, `names ${path}, which ${parsed.error}`, fix);
    return undefined;
  }
  const result = registrationSchema.safeParse(parsed.value);
  if (result.success) return result.data;
  for (const issue of result.error.issues.slice(0, MAX_ISSUES_LISTED)) {
    problems.add(variable, `names ${path}, which ${describeIssue(issue)}`, fix);
  }
  return undefined;
}

/**
 * Loads `<DATA_DIR>/credentials.json` if it exists. Returns undefined when it is absent; records a
 * problem under MATRIX_ACCESS_TOKEN (or MATRIX_HOMESERVER_URL, when only the URL is read from it) when it
 * exists but cannot be used.
 */
export function loadCredentials(path: string, files: FileAccess, problems: ProblemList, tokenNeeded = true): Credentials | undefined {
  if (!files.fileExists(path)) return undefined;
  const variable = tokenNeeded ? "MATRIX_ACCESS_TOKEN" : "MATRIX_HOMESERVER_URL";
  const fix = `run \`npm run login\` again, or set ${variable}`;
  let value: unknown;
  try {
    value = JSON.parse(files.readFile(path)) as unknown;
  } catch {
    problems.add(variable, `is not set, and ${path} cannot be read as JSON`, fix);
    return undefined;
  }
  const result = credentialsSchema.safeParse(value);
  if (result.success) return result.data;
  const fields = [...new Set(result.error.issues.map((i) => fieldPath(i.path) || "(the whole file)"))];
  problems.add(variable, `is not set, and ${path} has missing or invalid fields: ${fields.join(", ")}`, fix);
  return undefined;
}
