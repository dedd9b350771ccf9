// The encryption texts a user or operator reads stay in step with the code.
import { readFileSync } from "node:fs";
import path from "node:path";
import { UNDECRYPTABLE_NOTICE } from "../../../src/matrix/crypto";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const read = (file: string): string => readFileSync(path.join(ROOT, file), "utf8");

describe("encryption documentation", () => {
  it("quotes the undecryptable-message notice verbatim in the troubleshooting page and the encryption runbook", () => {
    expect(read("runbook/troubleshooting.md")).toContain(UNDECRYPTABLE_NOTICE);
    expect(read("runbook/encryption.md")).toContain(UNDECRYPTABLE_NOTICE);
  });
});
