// MATRIX_E2EE is a client-mode feature: appservice mode says so at start, in the configuration message.
import { loadConfig } from "../../../src/config";
import { clientEnv, expectOk, expectProblems, fakeFiles, HS, lineAbout, REGISTRATION_YAML } from "../config/config-helpers";

describe("MATRIX_E2EE and the mode", () => {
  it("is accepted in client mode", () => {
    expect(expectOk(loadConfig({ ...clientEnv, MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: "pw" }, fakeFiles({}))).e2ee).toBe(true);
  });

  it("is refused in appservice mode with a message naming client mode", () => {
    const files = fakeFiles({ "/etc/bot/registration.yaml": REGISTRATION_YAML });
    const { message, variables } = expectProblems(loadConfig(
      { MATRIX_HOMESERVER_URL: HS, MATRIX_REGISTRATION: "/etc/bot/registration.yaml", MATRIX_E2EE: "true" }, files));
    expect(variables).toContain("MATRIX_E2EE");
    expect(lineAbout(message, "MATRIX_E2EE")).toMatch(/client mode only.*Fix: set MATRIX_E2EE=false/);
  });

  it("stays off in appservice mode without complaint by default", () => {
    const files = fakeFiles({ "/etc/bot/registration.yaml": REGISTRATION_YAML });
    expect(expectOk(loadConfig({ MATRIX_HOMESERVER_URL: HS, MATRIX_REGISTRATION: "/etc/bot/registration.yaml" }, files)).e2ee).toBe(false);
  });
});
