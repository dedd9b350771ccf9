import * as path from "node:path";
import pino from "pino";
import { openStore, parseStoreUrl, redactStoreUrl, StoreConfigError } from "../../../src/store";

const logger = pino({ level: "silent" });

describe("STORE_URL parsing", () => {
  it("resolves relative sqlite paths against the working directory and keeps absolute ones", () => {
    expect(parseStoreUrl("sqlite://data/bot.sqlite", "/srv/bot")).toEqual({
      backend: "sqlite",
      file: path.resolve("/srv/bot", "data/bot.sqlite"),
      url: `sqlite://${path.resolve("/srv/bot", "data/bot.sqlite")}`,
    });
    expect(parseStoreUrl("sqlite://./data/bot.sqlite", "/srv/bot")).toMatchObject({ file: "/srv/bot/data/bot.sqlite" });
    expect(parseStoreUrl("sqlite:///var/lib/bot/bot.sqlite", "/srv/bot")).toMatchObject({
      file: "/var/lib/bot/bot.sqlite",
    });
    expect(parseStoreUrl("sqlite://:memory:")).toMatchObject({ backend: "sqlite", file: ":memory:" });
    expect(parseStoreUrl("SQLITE://x.db", "/w")).toMatchObject({ backend: "sqlite", file: "/w/x.db" });
  });

  it("maps postgres and redis schemes", () => {
    expect(parseStoreUrl("postgres://u:p@127.0.0.1/db").backend).toBe("postgres");
    expect(parseStoreUrl("postgresql://u:p@127.0.0.1/db").backend).toBe("postgres");
    expect(parseStoreUrl("redis://127.0.0.1:6379").backend).toBe("redis");
    expect(parseStoreUrl("rediss://127.0.0.1:6379").backend).toBe("redis");
  });

  it("rejects an sqlite url without a path", () => {
    expect(() => parseStoreUrl("sqlite://")).toThrow(StoreConfigError);
  });

  it.each([
    ["mysql://root:hunter2@127.0.0.1/bot", /"mysql:\/\/" is not supported/],
    ["file:///tmp/bot.sqlite", /"file:\/\/" is not supported/],
    ["./data/bot.sqlite", /no scheme/],
    ["", /no scheme/],
  ])("rejects %j and lists the accepted schemes", async (url, reason) => {
    const error = await openStore(url, { logger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreConfigError);
    const message = (error as StoreConfigError).message;
    expect(message).toMatch(reason);
    expect(message).toContain("sqlite://, postgres://, postgresql://, redis://, rediss://");
    expect(message).not.toContain("hunter2");
    expect((error as StoreConfigError).userMessage).not.toContain("hunter2");
  });

  it.each([
    ["postgres://bot:hunter2@127.0.0.1:5432/bot", "@keyv/postgres"],
    ["postgresql://bot:hunter2@127.0.0.1:5432/bot", "@keyv/postgres"],
    ["redis://:hunter2@127.0.0.1:6379", "@keyv/redis"],
    ["rediss://127.0.0.1:6380", "@keyv/redis"],
  ])("%s without its adapter package (an install that left it out) says which package to install", async (url, pkg) => {
    const missing = Object.assign(new Error(`Cannot find module '${pkg}' from 'src/store/adapters.ts'`), { code: "MODULE_NOT_FOUND" });
    jest.resetModules();
    jest.doMock(pkg, () => {
      throw missing;
    });
    try {
      const fresh = require("../../../src/store") as typeof import("../../../src/store");
      const error = await fresh.openStore(url, { logger }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(fresh.StoreConfigError);
      expect((error as Error).message).toContain(`npm install ${pkg}`);
      expect((error as Error).message).not.toContain("hunter2");
    } finally {
      jest.dontMock(pkg);
      jest.resetModules();
    }
  });

  it("redacts passwords for logs", () => {
    expect(redactStoreUrl("postgres://bot:hunter2@127.0.0.1:5432/bot")).toBe("postgres://bot:***@127.0.0.1:5432/bot");
    expect(redactStoreUrl("redis://:hunter2@127.0.0.1:6379")).not.toContain("hunter2");
    expect(redactStoreUrl("postgres://127.0.0.1/bot?password=hunter2")).not.toContain("hunter2");
    expect(redactStoreUrl("sqlite://data/bot.sqlite")).toBe("sqlite://data/bot.sqlite");
  });
});
