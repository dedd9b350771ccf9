import { loadConfig } from "../../../src/config";
import { expectOk, expectProblems, fakeFiles, HS, lineAbout, NO_FILES, REGISTRATION_YAML } from "./config-helpers";

describe("loadConfig: appservice mode", () => {
  const files = fakeFiles({ "/etc/bot/registration.yaml": REGISTRATION_YAML });

  it("defaults to appservice mode when MATRIX_REGISTRATION is set, and loads the registration", () => {
    const config = expectOk(
      loadConfig({ MATRIX_HOMESERVER_URL: HS, MATRIX_REGISTRATION: "/etc/bot/registration.yaml", APPSERVICE_BIND: "127.0.0.1:0" }, files),
    );
    expect(config.mode).toBe("appservice");
    expect(config.registrationPath).toBe("/etc/bot/registration.yaml");
    expect(config.registration).toMatchObject({
      id: "agent-bot",
      as_token: "as-secret-token",
      hs_token: "hs-secret-token",
      sender_localpart: "agent",
      namespaces: { users: [{ exclusive: true, regex: "@agent_.*:example.org" }], aliases: [], rooms: [] },
    });
    expect(config.appserviceBind).toEqual({ host: "127.0.0.1", port: 0 });
    expect(config.secrets).toEqual(expect.arrayContaining(["as-secret-token", "hs-secret-token"]));
  });

  it("accepts a null url (the homeserver does not push to the bot)", () => {
    const yaml = REGISTRATION_YAML.replace("url: http://127.0.0.1:9999", "url: null");
    const config = expectOk(
      loadConfig({ MATRIX_HOMESERVER_URL: HS, MATRIX_REGISTRATION: "/r.yaml" }, fakeFiles({ "/r.yaml": yaml })),
    );
    expect(config.registration?.url).toBeNull();
  });

  it("explains that appservice mode needs MATRIX_REGISTRATION", () => {
    const { message } = expectProblems(loadConfig({ MATRIX_HOMESERVER_URL: HS, MATRIX_MODE: "appservice" }, NO_FILES));
    expect(lineAbout(message, "MATRIX_REGISTRATION")).toMatch(/appservice mode.*Fix: .*MATRIX_REGISTRATION=/);
  });

  it("names a missing registration file", () => {
    const { message } = expectProblems(loadConfig({ MATRIX_HOMESERVER_URL: HS, MATRIX_REGISTRATION: "/nope/reg.yaml" }, NO_FILES));
    expect(lineAbout(message, "MATRIX_REGISTRATION")).toContain("/nope/reg.yaml, which does not exist");
  });

  it("names an invalid or missing registration field, without echoing tokens", () => {
    const yaml = REGISTRATION_YAML.replace("hs_token: hs-secret-token\n", "").replace("exclusive: true", "exclusive: maybe");
    const { message } = expectProblems(
      loadConfig({ MATRIX_HOMESERVER_URL: HS, MATRIX_REGISTRATION: "/r.yaml" }, fakeFiles({ "/r.yaml": yaml })),
    );
    expect(message).toMatch(/MATRIX_REGISTRATION: .*has no field "hs_token"/);
    expect(message).toMatch(/MATRIX_REGISTRATION: .*"namespaces\.users\[0\]\.exclusive"/);
    expect(message).not.toContain("as-secret-token");
  });

  it("reports a file that is not YAML", () => {
    const { message } = expectProblems(
      loadConfig({ MATRIX_HOMESERVER_URL: HS, MATRIX_REGISTRATION: "/r.yaml" }, fakeFiles({ "/r.yaml": "id: [unclosed" })),
    );
    expect(lineAbout(message, "MATRIX_REGISTRATION")).toMatch(/not valid YAML/);
  });
});

describe("loadConfig: client credentials", () => {
  const credentials = JSON.stringify({
    homeserverUrl: `${HS}/`,
    userId: "@bot:example.org",
    accessToken: "syt_saved_token",
    deviceId: "DEVICE1",
  });

  it("falls back to DATA_DIR/credentials.json saved by npm run login", () => {
    const config = expectOk(
      loadConfig({ MATRIX_HOMESERVER_URL: HS, DATA_DIR: "/srv/bot" }, fakeFiles({ "/srv/bot/credentials.json": credentials })),
    );
    expect(config).toMatchObject({ accessToken: "syt_saved_token", userId: "@bot:example.org", deviceId: "DEVICE1" });
    expect(config.secrets).toContain("syt_saved_token");
  });

  it("prefers MATRIX_ACCESS_TOKEN over saved credentials", () => {
    const config = expectOk(
      loadConfig(
        { MATRIX_HOMESERVER_URL: HS, DATA_DIR: "/srv/bot", MATRIX_ACCESS_TOKEN: "syt_env" },
        fakeFiles({ "/srv/bot/credentials.json": credentials }),
      ),
    );
    expect(config.accessToken).toBe("syt_env");
  });

  it("asks for a token or npm run login when there is neither", () => {
    const { message } = expectProblems(loadConfig({ MATRIX_HOMESERVER_URL: HS, DATA_DIR: "/srv/bot" }, NO_FILES));
    expect(lineAbout(message, "MATRIX_ACCESS_TOKEN")).toContain("Fix: set MATRIX_ACCESS_TOKEN or run `npm run login`");
  });

  it("refuses credentials saved for another homeserver", () => {
    const { message } = expectProblems(
      loadConfig(
        { MATRIX_HOMESERVER_URL: "https://other.example.net", DATA_DIR: "/srv/bot" },
        fakeFiles({ "/srv/bot/credentials.json": credentials }),
      ),
    );
    expect(lineAbout(message, "MATRIX_ACCESS_TOKEN")).toMatch(/saved for https:\/\/matrix\.example\.org/);
    expect(message).not.toContain("syt_saved_token");
  });

  it("takes the homeserver from credentials.json when MATRIX_HOMESERVER_URL is unset or empty: login, then start, nothing else", () => {
    for (const env of [{}, { MATRIX_HOMESERVER_URL: "", MATRIX_ACCESS_TOKEN: " ", DATA_DIR: "" }]) {
      const config = expectOk(loadConfig(env, fakeFiles({ "data/credentials.json": credentials })));
      expect(config).toMatchObject({ mode: "client", homeserverUrl: HS, accessToken: "syt_saved_token", userId: "@bot:example.org" });
    }
    const withToken = expectOk(loadConfig({ DATA_DIR: "/srv/bot", MATRIX_ACCESS_TOKEN: "syt_env" },
      fakeFiles({ "/srv/bot/credentials.json": credentials })));
    expect(withToken).toMatchObject({ homeserverUrl: HS, accessToken: "syt_env" });
  });

  it("without MATRIX_HOMESERVER_URL and credentials.json, says to run npm run login or set the URL, first", () => {
    const { message, variables } = expectProblems(loadConfig({ MATRIX_HOMESERVER_URL: "", DATA_DIR: "/srv/bot" }, NO_FILES));
    expect(variables[0]).toBe("MATRIX_HOMESERVER_URL");
    expect(lineAbout(message, "MATRIX_HOMESERVER_URL")).toMatch(/no usable \/srv\/bot\/credentials\.json .*Fix: run `npm run login`.*or set MATRIX_HOMESERVER_URL=/);
  });

  it("refuses a credentials.json whose homeserver URL is not http(s) when it is the only one", () => {
    const bad = JSON.stringify({ homeserverUrl: "matrix.example.org", userId: "@bot:example.org", accessToken: "syt_x", deviceId: "D" });
    const { message } = expectProblems(loadConfig({ DATA_DIR: "/srv/bot" }, fakeFiles({ "/srv/bot/credentials.json": bad })));
    expect(lineAbout(message, "MATRIX_HOMESERVER_URL")).toMatch(/names no http:\/\/ or https:\/\/ homeserver URL/);
    expect(message).not.toContain("syt_x");
    const withUrl = expectProblems(loadConfig({ MATRIX_HOMESERVER_URL: HS, DATA_DIR: "/srv/bot" }, fakeFiles({ "/srv/bot/credentials.json": bad })));
    expect(withUrl.variables).toEqual(["MATRIX_ACCESS_TOKEN"]);
    expect(lineAbout(withUrl.message, "MATRIX_ACCESS_TOKEN")).toContain('was saved for "matrix.example.org", not for MATRIX_HOMESERVER_URL');
  });

  it("names the broken field of a damaged credentials.json", () => {
    const broken = JSON.stringify({ homeserverUrl: HS, userId: "@bot:example.org", deviceId: "D" });
    const { message } = expectProblems(
      loadConfig({ MATRIX_HOMESERVER_URL: HS, DATA_DIR: "/srv/bot" }, fakeFiles({ "/srv/bot/credentials.json": broken })),
    );
    expect(lineAbout(message, "MATRIX_ACCESS_TOKEN")).toMatch(/accessToken.*Fix: run `npm run login` again/);
  });
});
