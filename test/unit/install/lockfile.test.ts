// `npm ci` must fetch nothing outside the npm registry: no tarball URLs elsewhere, no git dependencies, and the
// SDK's native crypto package (whose install script downloads a binary from GitHub) replaced by our local one.
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../../support/bot-harness";

interface LockPackage {
  resolved?: string; link?: boolean; version?: string; hasInstallScript?: boolean; optionalDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockPackage> };
const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
  overrides: Record<string, string>; allowScripts: Record<string, boolean>;
};

describe("what npm ci installs", () => {
  it("resolves every package from the npm registry or from this repository", () => {
    const outside = Object.entries(lock.packages).filter(([, p]) =>
      p.resolved !== undefined && !p.link && !p.resolved.startsWith("https://registry.npmjs.org/"));
    expect(outside).toEqual([]);
  });

  it("records every optional dependency, so npm ci does not refuse the lockfile as out of sync", () => {
    // A registry mirror without some platforms' builds makes npm drop them from the lock; npm ci then fails.
    const present = new Set(Object.keys(lock.packages).map((k) => k.replace(/^.*node_modules\//, "")));
    const missing = Object.entries(lock.packages).flatMap(([k, p]) =>
      Object.keys(p.optionalDependencies ?? {}).filter((d) => !present.has(d)).map((d) => `${k} -> ${d}`));
    expect(missing).toEqual([]);
  });

  it("links the crypto package to our local stand-in, not the one that downloads a binary", () => {
    const entry = lock.packages["node_modules/@matrix-org/matrix-sdk-crypto-nodejs"];
    expect(entry).toEqual({ resolved: "packages/matrix-sdk-crypto-nodejs", link: true });
    expect(pkg.overrides["@matrix-org/matrix-sdk-crypto-nodejs"]).toBe("$@matrix-org/matrix-sdk-crypto-nodejs");
    const nested = Object.keys(lock.packages).filter((k) => k.endsWith("/@matrix-org/matrix-sdk-crypto-nodejs") && k !== "node_modules/@matrix-org/matrix-sdk-crypto-nodejs");
    expect(nested).toEqual([]);
  });

  it("approves only the install scripts it needs (sqlite3 compiles from source)", () => {
    const withScripts = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript).map(([k]) => k.replace(/^.*node_modules\//, ""));
    expect(withScripts.sort()).toEqual(Object.keys(pkg.allowScripts).sort());
    expect(pkg.allowScripts["sqlite3"]).toBe(true);
  });

  it("loads matrix-bot-sdk with the WASM bridge, which declares the exact crypto-wasm version it runs on", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bridge = require("@matrix-org/matrix-sdk-crypto-nodejs") as { isStub?: boolean; StoreType: unknown };
    expect(bridge.isStub).toBeFalsy();
    expect(bridge.StoreType).toBeDefined();
    expect(() => require("matrix-bot-sdk")).not.toThrow();
    const own = JSON.parse(readFileSync(path.join(ROOT, "packages/matrix-sdk-crypto-nodejs/package.json"), "utf8")) as { dependencies: Record<string, string> };
    const wasmVersion = own.dependencies["@matrix-org/matrix-sdk-crypto-wasm"];
    expect(wasmVersion).toMatch(/^\d+\.\d+\.\d+$/); // pinned exactly
    expect(lock.packages["node_modules/@matrix-org/matrix-sdk-crypto-wasm"]?.version).toBe(wasmVersion);
    expect(lock.packages["packages/matrix-sdk-crypto-nodejs"]).toMatchObject({ dependencies: { "@matrix-org/matrix-sdk-crypto-wasm": wasmVersion } });
  });
});
