// runbook/tls.md, checked: a homeserver behind a certificate from a private CA is "not trusted" until
// NODE_EXTRA_CA_CERTS names the CA in the process's environment; in .env it comes too late. Needs the openssl
// command to make the certificates (skipped without it).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { makeDataDir, removeDir } from "../../support/bot-harness";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { runCli } from "./support";

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A CA and a certificate for 127.0.0.1 signed by it, in dir. */
function makeCertificates(dir: string): { ca: string; key: string; cert: string } {
  const f = (name: string): string => path.join(dir, name);
  const run = (args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "2",
    "-subj", "/CN=matrix-agent-bot test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", f("server.key"), "-out", f("server.csr"), "-subj", "/CN=127.0.0.1"]);
  writeFileSync(f("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  run(["x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f("server.pem"),
    "-days", "2", "-extfile", f("ext.cnf")]);
  return { ca: f("ca.pem"), key: f("server.key"), cert: f("server.pem") };
}

/** TLS in front of the homeserver double, as a reverse proxy would be. */
async function tlsProxy(target: string, key: string, cert: string): Promise<{ url: string; close: () => Promise<void> }> {
  const { readFileSync } = await import("node:fs");
  const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    const upstream = http.request(`${target}${req.url ?? "/"}`, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

(hasOpenssl() ? describe : describe.skip)("a homeserver behind a private CA (runbook/tls.md)", () => {
  let hs: Homeserver;
  let dir: string;
  let proxy: { url: string; close: () => Promise<void> };
  let certs: { ca: string; key: string; cert: string };

  beforeAll(async () => {
    dir = makeDataDir();
    certs = makeCertificates(dir);
    hs = await startHomeserver({ serverName: "localhost" });
    proxy = await tlsProxy(hs.url, certs.key, certs.cert);
  });
  afterAll(async () => {
    await proxy.close();
    await hs.close();
    removeDir(dir);
  });

  it("is not trusted without NODE_EXTRA_CA_CERTS, and the doctor says what to set", async () => {
    const bot = hs.addUser("tlsbot");
    const run = await runCli("doctor", [], { cwd: dir, env: { MATRIX_HOMESERVER_URL: proxy.url, MATRIX_ACCESS_TOKEN: bot.accessToken, DATA_DIR: dir } });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/✗ homeserver: the TLS certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    expect(run.stdout).toContain("NODE_EXTRA_CA_CERTS");
  });

  it("is trusted with NODE_EXTRA_CA_CERTS in the environment, not when it is only in .env", async () => {
    const bot = hs.addUser("tlsbot2");
    const env = { MATRIX_HOMESERVER_URL: proxy.url, MATRIX_ACCESS_TOKEN: bot.accessToken, DATA_DIR: dir };
    writeFileSync(path.join(dir, ".env"), `NODE_EXTRA_CA_CERTS=${certs.ca}\n`);
    const fromDotEnv = await runCli("doctor", [], { cwd: dir, env });
    expect(fromDotEnv.stdout).toContain("is not trusted");

    const fromEnvironment = await runCli("doctor", [], { cwd: dir, env: { ...env, NODE_EXTRA_CA_CERTS: certs.ca } });
    expect(fromEnvironment.stdout).toContain(`✓ homeserver: ${proxy.url} answers`);
    expect(fromEnvironment.stdout).toContain("✓ token: MATRIX_ACCESS_TOKEN is valid: the bot is @tlsbot2:localhost");
    expect(fromEnvironment.code).toBe(0);
  });
});
