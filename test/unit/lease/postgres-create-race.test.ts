// Two bot processes starting at once on a fresh PostgreSQL database both create the lease table; PostgreSQL tells
// the loser that the table or its row type exists (42P07, 42710, or 23505 on pg_type), as seen once on a busy CI
// machine ("type \"mab_lease\" already exists"). The loser must go on, not fail its start. The server's answer is
// played by a stand-in `pg` pool here (the race itself cannot be forced on a real server); lease.test.ts runs
// the lease against the real one.
import { PostgresLeaseStore } from "../../../src/lease/postgres-lease";

const answers: Array<(sql: string) => { rows: Array<Record<string, unknown>> }> = [];
const statements: string[] = [];

jest.mock("pg", () => ({
  Pool: class {
    on(): void {}
    async end(): Promise<void> {}
    async query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }> {
      statements.push(sql.trim().split(/\s+/).slice(0, 2).join(" "));
      const next = answers.shift();
      if (!next) throw new Error("no answer scripted");
      return next(sql);
    }
  },
}));

function raceError(code: string): Error {
  return Object.assign(new Error(`duplicate (${code})`), { code });
}

beforeEach(() => {
  answers.length = 0;
  statements.length = 0;
});

it.each(["42P07", "42710", "23505"])("creates the table again after losing the race (%s), then takes the lease", async (code) => {
  answers.push(() => { throw raceError(code); }, () => ({ rows: [] }), () => ({ rows: [{ token: "7" }] }));
  const store = new PostgresLeaseStore("postgres://127.0.0.1:1/x", "bot", 1000, () => undefined);
  await expect(store.acquire("me", 10_000)).resolves.toBe(7);
  expect(statements).toEqual(["CREATE TABLE", "CREATE TABLE", "INSERT INTO"]);
});

it("fails the call on any other error, and tries the table again on the next call", async () => {
  answers.push(() => { throw raceError("28P01"); }, () => ({ rows: [] }), () => ({ rows: [{ token: "1" }] }));
  const store = new PostgresLeaseStore("postgres://127.0.0.1:1/x", "bot", 1000, () => undefined);
  await expect(store.acquire("me", 10_000)).rejects.toThrow("28P01");
  await expect(store.acquire("me", 10_000)).resolves.toBe(1);
  expect(statements).toEqual(["CREATE TABLE", "CREATE TABLE", "INSERT INTO"]);
});
