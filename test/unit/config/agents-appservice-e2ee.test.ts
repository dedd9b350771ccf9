// MATRIX_E2EE with named agents in appservice mode is refused at start: each named agent answers as a user of its
// own, and those users have no encryption devices yet.
import { loadConfig } from "../../../src/config";
import { expectOk, expectProblems, fakeFiles, HS, lineAbout, REGISTRATION_YAML } from "./config-helpers";

const AGENTS = "default: support\nagents:\n  support:\n    url: ws://127.0.0.1:8790\n  coder:\n    url: http://127.0.0.1:9000/agent\n";
const files = fakeFiles({ "/reg.yaml": REGISTRATION_YAML, "/agents.yaml": AGENTS });
const appservice = { MATRIX_HOMESERVER_URL: HS, MATRIX_REGISTRATION: "/reg.yaml", AGENTS_FILE: "/agents.yaml" };

describe("MATRIX_E2EE with named agents in appservice mode", () => {
  it("is refused with the other config errors, naming the agents and the ways out", () => {
    const { message, variables } = expectProblems(loadConfig({ ...appservice, MATRIX_E2EE: "true", LOG_LEVEL: "loud" }, files));
    expect(variables).toEqual(expect.arrayContaining(["MATRIX_E2EE", "CRYPTO_PASSPHRASE", "LOG_LEVEL"])); // listed together
    const line = lineAbout(message, "MATRIX_E2EE");
    expect(line).toMatch(/appservice mode with named agents \(coder\)/);
    expect(line).toMatch(/Fix: set MATRIX_E2EE=false, or run with only the default agent in AGENTS_FILE, or use MATRIX_MODE=client/);
  });

  it("is accepted in client mode, without named agents, and without encryption", () => {
    const onlyDefault = fakeFiles({ "/reg.yaml": REGISTRATION_YAML, "/agents.yaml": "agents:\n  support:\n    url: ws://127.0.0.1:8790\n" });
    expectOk(loadConfig({ ...appservice, MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: "p" }, onlyDefault));
    expectOk(loadConfig({ ...appservice, MATRIX_E2EE: "false" }, files));
    expectOk(loadConfig({ MATRIX_HOMESERVER_URL: HS, MATRIX_ACCESS_TOKEN: "t", AGENTS_FILE: "/agents.yaml", MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: "p" }, files));
  });
});
