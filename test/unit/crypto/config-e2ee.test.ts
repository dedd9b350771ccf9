// MATRIX_E2EE works in both modes and needs CRYPTO_PASSPHRASE: a missing passphrase is said at start, in the
// configuration message, before anything runs.
import { loadConfig } from "../../../src/config";
import { clientEnv, expectOk, expectProblems, fakeFiles, HS, lineAbout, REGISTRATION_YAML } from "../config/config-helpers";

describe("MATRIX_E2EE and the mode", () => {
  it("is accepted in client mode with a passphrase", () => {
    const config = expectOk(loadConfig({ ...clientEnv, MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: "pw" }, fakeFiles({})));
    expect(config.e2ee).toBe(true);
    expect(config.cryptoPassphrase).toBe("pw");
  });

  it("requires CRYPTO_PASSPHRASE in client mode, naming it and how to pick one", () => {
    for (const passphrase of [undefined, "", "   "]) {
      const env = { ...clientEnv, MATRIX_E2EE: "true", ...(passphrase !== undefined ? { CRYPTO_PASSPHRASE: passphrase } : {}) };
      const { message, variables } = expectProblems(loadConfig(env, fakeFiles({})));
      expect(variables).toEqual(["CRYPTO_PASSPHRASE"]);
      expect(lineAbout(message, "CRYPTO_PASSPHRASE")).toMatch(/required with MATRIX_E2EE=true.*Fix: set CRYPTO_PASSPHRASE/);
    }
  });

  it("does not need a passphrase while encryption is off", () => {
    expect(expectOk(loadConfig({ ...clientEnv, MATRIX_E2EE: "false" }, fakeFiles({}))).e2ee).toBe(false);
  });

  it("is accepted in appservice mode with a passphrase", () => {
    const files = fakeFiles({ "/etc/bot/registration.yaml": REGISTRATION_YAML });
    const config = expectOk(loadConfig(
      { MATRIX_HOMESERVER_URL: HS, MATRIX_REGISTRATION: "/etc/bot/registration.yaml", MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: "pw" }, files));
    expect(config).toMatchObject({ mode: "appservice", e2ee: true, cryptoPassphrase: "pw" });
  });

  it("requires CRYPTO_PASSPHRASE in appservice mode too", () => {
    const files = fakeFiles({ "/etc/bot/registration.yaml": REGISTRATION_YAML });
    const { message, variables } = expectProblems(loadConfig(
      { MATRIX_HOMESERVER_URL: HS, MATRIX_REGISTRATION: "/etc/bot/registration.yaml", MATRIX_E2EE: "true" }, files));
    expect(variables).toEqual(["CRYPTO_PASSPHRASE"]);
    expect(lineAbout(message, "CRYPTO_PASSPHRASE")).toMatch(/required with MATRIX_E2EE=true/);
  });

  it("stays off in appservice mode without complaint by default", () => {
    const files = fakeFiles({ "/etc/bot/registration.yaml": REGISTRATION_YAML });
    expect(expectOk(loadConfig({ MATRIX_HOMESERVER_URL: HS, MATRIX_REGISTRATION: "/etc/bot/registration.yaml" }, files)).e2ee).toBe(false);
  });
});
