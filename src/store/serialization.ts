// How the store turns values into text and back. The format is keyv's default one (@keyv/serialize), so every
// existing store reads as before: JSON, a string that starts with ":" gets one more ":" in front, a Buffer is
// written as ":base64:<data>". What differs is how the text is made. keyv's serializer walks values itself and
// calls `value.toJSON()` on any object whose `toJSON` is truthy, so a Matrix event whose content merely has a
// `toJSON` key (any user can send one) made every write of it throw. Here JSON.stringify does the walking: it
// calls `toJSON` only when it is a function, which JSON data never carries, and keeps `__proto__`,
// `constructor` and `then` as the plain keys they are. Reading walks the parsed value with a stack of its own
// (not a reviver), so no nesting depth JSON.parse accepts can overflow it.

/** A value the store cannot write (e.g. nested too deeply for JSON.stringify, or a BigInt). */
export class UnstorableValueError extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`the value cannot be stored: ${reason}`, options);
    this.name = "UnstorableValueError";
  }
}

const COLON = 58; // ":"

/** keyv's default format, written by JSON.stringify. Throws UnstorableValueError. */
export function serializeStoreValue(data: unknown): string {
  try {
    const text = needsEncoding(data) ? JSON.stringify(data, encodeReplacer) : JSON.stringify(data);
    return text ?? "null";
  } catch (error) {
    throw new UnstorableValueError(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/** Reads what serializeStoreValue (or keyv's own serializer) wrote. */
export function deserializeStoreValue<T>(text: string): T {
  const root = JSON.parse(text) as unknown;
  if (typeof root === "string") return decodeString(root) as T;
  if (typeof root !== "object" || root === null) return root as T;
  const stack: object[] = [root];
  for (let holder = stack.pop(); holder !== undefined; holder = stack.pop()) {
    const record = holder as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const value = record[key];
      // (Assigning to an own "__proto__" data property updates that property: the prototype is not touched.)
      if (typeof value === "string") {
        if (value.charCodeAt(0) === COLON) record[key] = decodeString(value);
      } else if (typeof value === "object" && value !== null) {
        stack.push(value);
      }
    }
  }
  return root as T;
}

function decodeString(value: string): string | Buffer {
  if (value.charCodeAt(0) !== COLON) return value;
  return value.startsWith(":base64:") ? Buffer.from(value.slice(8), "base64") : value.slice(1);
}

/**
 * Whether the value holds a string starting with ":" or a Buffer (most values do not: plain JSON.stringify then).
 * Asked for every write: it walks the value without making a key list per object.
 */
function needsEncoding(data: unknown): boolean {
  const stack: object[] = [];
  if (marks(data, stack)) return true;
  for (let value = stack.pop(); value !== undefined; value = stack.pop()) {
    if (Buffer.isBuffer(value)) return true;
    if (Array.isArray(value)) {
      for (const item of value as unknown[]) if (marks(item, stack)) return true;
    } else {
      const record = value as Record<string, unknown>;
      for (const key in record) if (Object.prototype.hasOwnProperty.call(record, key) && marks(record[key], stack)) return true;
    }
  }
  return false;
}

/** A string that needs the escape: true; an object or array: pushed to be walked. */
function marks(value: unknown, stack: object[]): boolean {
  if (typeof value === "string") return value.charCodeAt(0) === COLON;
  if (typeof value === "object" && value !== null) stack.push(value);
  return false;
}

function encodeReplacer(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key]; // before Buffer's toJSON turned it into {type,data}
  if (Buffer.isBuffer(original)) return `:base64:${original.toString("base64")}`;
  if (typeof value === "string" && value.charCodeAt(0) === COLON) return `:${value}`;
  return value;
}
