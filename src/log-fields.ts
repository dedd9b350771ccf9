// The first layer of log redaction (log.ts): fields that hold credentials are blanked before a line is written,
// whatever their value (an Authorization header, a token, a password), at any depth up to FIELD_DEPTH. pino's own
// `redact` option did this from a list of paths, but with wildcard paths it ran its redactor on every field of every
// line (~80 µs a line here, an info line per turn): this walk only reads keys, and copies an object only along
// the path to a field it blanks (a line without such a field is written as it was given). A child logger's bindings
// are not walked: their top-level fields of these names are blanked by serializers (log.ts).

/** Field names whose values are blanked, wherever they are (names compared exactly, as written here). */
export const SECRET_FIELDS: ReadonlySet<string> = new Set([
  "authorization", "Authorization",
  "access_token", "accessToken", "token", "as_token", "hs_token", "password", "passphrase", "apiKey", "api_key",
]);

/** How deep fields are looked at (the deepest path pino's list named was `*.*.*.headers.authorization`). */
const FIELD_DEPTH = 6;

/**
 * `value` with every secret field's value replaced by `censor`: the same object when it has none; otherwise a copy of
 * each object on the way to one (a class instance becomes a plain object of its own fields, as JSON would write it).
 * `skip`: top-level fields left alone (those with a serializer of their own, such as `err`).
 */
export function blankSecretFields<T>(value: T, censor: string, skip?: ReadonlySet<string>): T {
  return blank(value, censor, 0, skip) as T;
}

function blank(value: unknown, censor: string, depth: number, skip?: ReadonlySet<string>): unknown {
  if (typeof value !== "object" || value === null || depth >= FIELD_DEPTH || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i += 1) {
      const item: unknown = value[i];
      const blanked = blank(item, censor, depth + 1);
      if (blanked !== item) (copy ??= value.slice())[i] = blanked;
    }
    return copy ?? value;
  }
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key in record) {
    if (!Object.prototype.hasOwnProperty.call(record, key) || skip?.has(key)) continue;
    const field = record[key];
    const blanked = SECRET_FIELDS.has(key) ? (field === undefined ? field : censor) : blank(field, censor, depth + 1);
    if (blanked !== field) (copy ??= { ...record })[key] = blanked;
  }
  return copy ?? value;
}
