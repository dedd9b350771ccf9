// Reading Megolm ciphertexts as they travel, for the E2EE tests (the double's and Synapse's).

/** The message index of a Megolm ciphertext (version byte, then protobuf field 1 as a varint). */
export function megolmIndex(ciphertext: string): number {
  const bytes = Buffer.from(ciphertext, "base64");
  let index = 0;
  for (let at = 2, shift = 0; at < bytes.length; at += 1, shift += 7) {
    const byte = bytes[at] ?? 0;
    index += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  return index;
}

/** `session/index` of each encrypted event's content: two equal keys mean one Megolm key encrypted two messages. */
export function megolmKeysUsed(contents: Array<Record<string, unknown>>): string[] {
  return contents.map((c) => `${String(c["session_id"])}/${megolmIndex(String(c["ciphertext"]))}`);
}
