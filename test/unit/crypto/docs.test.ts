// The encryption texts a user or operator reads stay in step with the code.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { ENCRYPTION_REGISTRATION_FLAGS, SYNAPSE_ENCRYPTION_FEATURES } from "../../../src/matrix/appservice-crypto";
import { UNDECRYPTABLE_NOTICE } from "../../../src/matrix/crypto";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const read = (file: string): string => readFileSync(path.join(ROOT, file), "utf8");

describe("encryption documentation", () => {
  it("quotes the undecryptable-message notice verbatim in the troubleshooting page and the encryption runbook", () => {
    expect(read("runbook/troubleshooting.md")).toContain(UNDECRYPTABLE_NOTICE);
    expect(read("runbook/encryption.md")).toContain(UNDECRYPTABLE_NOTICE);
  });

  it("shows appservice encryption's registration flags and Synapse's experimental features (encryption and Synapse runbooks), and compose's Synapse has them", () => {
    const features = Object.fromEntries(SYNAPSE_ENCRYPTION_FEATURES.map((feature) => [feature, true]));
    const runbook = read("runbook/encryption.md");
    for (const flag of ENCRYPTION_REGISTRATION_FLAGS) expect(runbook).toContain(`${flag}: true`);
    for (const feature of Object.keys(features)) expect(runbook).toContain(`${feature}: true`);
    const synapseRunbook = read("runbook/appservice-synapse.md");
    for (const flag of ENCRYPTION_REGISTRATION_FLAGS) expect(synapseRunbook).toContain(`\`${flag}\``);
    const shown = synapseRunbook.match(/```yaml\n(experimental_features:[\s\S]*?)```/)?.[1];
    expect(parse(shown ?? "")).toEqual({ experimental_features: features });
    const compose = parse(read("docker/synapse-appservice.yaml")) as { experimental_features?: unknown };
    expect(compose.experimental_features).toEqual(features);
    expect(read("docker-compose.yml")).toContain("/compose/synapse-appservice.yaml");
  });
});
