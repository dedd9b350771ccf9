// The appservice's HTTP surface as a homeserver sees it: authentication, body limits, malformed bodies,
// the users/rooms/ping endpoints, unknown paths, and no secret in the logs.
import * as http from "node:http";
import { userNamespaceRegexes } from "../../../src/matrix/appservice-protocol";
import { AppserviceFixture, BOT, expectNoSecretIn, HS_TOKEN, message } from "./support";

describe("appservice server: HTTP surface", () => {
  let as: AppserviceFixture;

  beforeEach(async () => {
    as = await new AppserviceFixture().start();
  });
  afterEach(async () => {
    expectNoSecretIn(as.logLines, HS_TOKEN);
    expect(as.logLines.length).toBeGreaterThan(0);
    await as.close();
  });

  const txn = { events: [message("$a:example.org", "hello")] };

  it("accepts the hs_token as a Bearer header, as the legacy access_token query, and on the legacy path", async () => {
    expect(await as.put("t-header", txn, { auth: "header" })).toEqual({ status: 200, body: {} });
    expect(await as.put("t-query", { events: [message("$b:example.org", "two")] }, { auth: "query" })).toEqual({ status: 200, body: {} });
    expect(await as.put("t-legacy", { events: [message("$c:example.org", "three")] }, { legacy: true })).toEqual({ status: 200, body: {} });
    expect(as.items.map((i) => (i.kind === "event" ? i.event.event_id : ""))).toEqual(["$a:example.org", "$b:example.org", "$c:example.org"]);
    expect(as.okCount).toBe(3);
  });

  it("answers 401 M_UNAUTHORIZED without a token and 403 M_FORBIDDEN with a wrong one, delivering nothing", async () => {
    const missing = await as.put("t1", txn, { auth: "none" });
    expect(missing).toEqual({ status: 401, body: expect.objectContaining({ errcode: "M_UNAUTHORIZED" }) });
    const wrongHeader = await as.put("t1", txn, { auth: "header", token: "not-the-token" });
    expect(wrongHeader).toEqual({ status: 403, body: expect.objectContaining({ errcode: "M_FORBIDDEN" }) });
    const wrongQuery = await as.put("t1", txn, { auth: "query", token: `${HS_TOKEN}x` });
    expect(wrongQuery.status).toBe(403);
    // A right header does not excuse a wrong query token.
    const mixed = await as.request("/_matrix/app/v1/transactions/t1?access_token=nope", { method: "PUT", body: JSON.stringify(txn) });
    expect(mixed.status).toBe(403);
    expect(as.batches).toHaveLength(0);
    // A later correct request on the same txnId is processed: refusals record nothing.
    expect((await as.put("t1", txn)).status).toBe(200);
    expect(as.batches).toHaveLength(1);
  });

  it("refuses a body over the limit with 413 M_TOO_LARGE (declared length)", async () => {
    const big = { events: [message("$big:example.org", "x".repeat(100 * 1024))] };
    const res = await as.put("t-big", big);
    expect(res).toEqual({ status: 413, body: expect.objectContaining({ errcode: "M_TOO_LARGE" }) });
    expect(as.batches).toHaveLength(0);
    expect((await as.put("t-small", txn)).status).toBe(200);
  });

  it("stops reading a chunked body that passes the limit instead of buffering it all", async () => {
    const chunk = Buffer.alloc(64 * 1024, "a");
    const maxBytes = 64 * 1024 * 1024;
    const result = await new Promise<{ status: number; body: string; written: number }>((resolve, reject) => {
      let written = 0;
      let answered = false;
      const req = http.request(`${as.url}/_matrix/app/v1/transactions/t-stream`, {
        method: "PUT",
        headers: { authorization: `Bearer ${HS_TOKEN}`, "transfer-encoding": "chunked" },
      });
      req.on("response", (res) => {
        answered = true;
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, written }));
        res.on("error", reject);
      });
      req.on("error", (error) => {
        if (!answered) reject(error);
      });
      const pump = (): void => {
        while (!answered && written < maxBytes) {
          written += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        if (!answered) req.end();
      };
      req.write('{"events":[{"pad":"');
      pump();
    });
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body)).toEqual(expect.objectContaining({ errcode: "M_TOO_LARGE" }));
    expect(result.written).toBeLessThan(maxBytes);
    expect(as.batches).toHaveLength(0);
  });

  it("answers 400 M_NOT_JSON for a body that is not JSON and 400 M_BAD_JSON for one without an events array", async () => {
    expect(await as.put("t-1", "{not json")).toEqual({ status: 400, body: expect.objectContaining({ errcode: "M_NOT_JSON" }) });
    for (const body of [{}, { events: "nope" }, [], null, 42]) {
      expect(await as.put("t-2", body)).toEqual({ status: 400, body: expect.objectContaining({ errcode: "M_BAD_JSON" }) });
    }
    expect(as.batches).toHaveLength(0);
  });

  it("accepts ephemeral arrays (stable and MSC2409) and ignores them", async () => {
    const body = {
      events: [message("$e:example.org", "with ephemeral")],
      ephemeral: [{ type: "m.typing", room_id: "!room:example.org", content: { user_ids: [] } }],
      "de.sorunome.msc2409.ephemeral": [{ type: "m.receipt", content: {} }],
    };
    expect((await as.put("t-eph", body)).status).toBe(200);
    expect(as.items).toHaveLength(1);
  });

  it("answers the users query for the bot and its namespace only", async () => {
    const get = (userId: string, auth: "header" | "none" = "header") =>
      as.request(`/_matrix/app/v1/users/${encodeURIComponent(userId)}`, { method: "GET" }, { auth });
    expect(await get(BOT)).toEqual({ status: 200, body: {} });
    expect(await get("@_agent_helper:example.org")).toEqual({ status: 200, body: {} });
    expect(await get("@alice:example.org")).toEqual({ status: 404, body: expect.objectContaining({ errcode: "M_NOT_FOUND" }) });
    expect((await get(BOT, "none")).status).toBe(401);
    expect((await as.request(`/users/${encodeURIComponent(BOT)}`, { method: "GET" })).status).toBe(200);
  });

  it("answers the room alias query 404, ping 200, an unknown path 404 M_UNRECOGNIZED and a wrong method 405", async () => {
    const alias = await as.request(`/_matrix/app/v1/rooms/${encodeURIComponent("#any:example.org")}`, { method: "GET" });
    expect(alias).toEqual({ status: 404, body: expect.objectContaining({ errcode: "M_NOT_FOUND" }) });
    const ping = await as.request("/_matrix/app/v1/ping", { method: "POST", body: JSON.stringify({ transaction_id: "p1" }) });
    expect(ping).toEqual({ status: 200, body: {} });
    expect((await as.request("/_matrix/app/v1/ping", { method: "POST", body: "{}" }, { auth: "none" })).status).toBe(401);
    const unknown = await as.request("/_matrix/app/v1/thirdparty/protocol/irc", { method: "GET" });
    expect(unknown).toEqual({ status: 404, body: expect.objectContaining({ errcode: "M_UNRECOGNIZED" }) });
    const wrongMethod = await as.request("/_matrix/app/v1/transactions/t9", { method: "POST", body: "{}" });
    expect(wrongMethod).toEqual({ status: 405, body: expect.objectContaining({ errcode: "M_UNRECOGNIZED" }) });
  });
});

describe("userNamespaceRegexes", () => {
  it("applies the registration's user regexes from the start of the id, as homeservers do", () => {
    const regexes = userNamespaceRegexes({ namespaces: { users: [{ exclusive: true, regex: "@_agent_.*:example\\.org" }], aliases: [], rooms: [] } });
    const owned = (id: string): boolean => regexes.some((re) => re.test(id));
    expect(owned("@_agent_7:example.org")).toBe(true);
    expect(owned("@mallory@_agent_7:example.org")).toBe(false);
    expect(owned("@alice:example.org")).toBe(false);
  });
});
