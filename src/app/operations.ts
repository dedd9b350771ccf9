// What operators watch: metrics, readiness (/readyz and the `ready` log line), and the bot's own HTTP server
// (/healthz, /readyz, /metrics, POST /proactive). Started first, so /healthz answers while the bot is still
// connecting (/readyz says 503, starting); stopped last.
import type { Logger } from "pino";
import type { Config } from "../config";
import { observeHomeserver, whoamiProbe } from "../http/homeserver-watch";
import { ReadinessTracker, type WatchableLink } from "../http/readiness";
import { ReadyLog } from "../http/ready-log";
import { HttpServer, type RouteHandler } from "../http/server";
import { childLogger } from "../log";
import type { MatrixRequestError } from "../matrix/errors";
import type { MatrixHttp } from "../matrix/http";
import { Metrics, type WorkInFlight } from "../metrics";
import type { ProactiveFanout } from "../proactive/fanout";
import { handleProactivePush } from "../proactive/http-push";
import type { Store } from "../store";

export class Operations {
  readonly metrics = new Metrics();
  readonly readiness: ReadinessTracker;
  private readonly server: HttpServer;
  private store: Store | undefined;
  private observed: MatrixHttp | undefined;
  private workProbe: (() => WorkInFlight) | undefined;
  private readyLog: ReadyLog | undefined;
  port: number | undefined;

  constructor(private readonly config: Config, private readonly log: Logger) {
    this.readiness = new ReadinessTracker({
      homeserverStaleMs: config.timings.homeserverStaleMs,
      storeHealthCheck: () => (this.store ? this.store.healthCheck() : Promise.reject(new Error("the store is not open yet"))),
      probeHomeserver: () => (this.observed ? whoamiProbe(this.observed)() : Promise.reject(new Error("not signed in yet"))),
    });
    this.readiness.starting(); // /readyz says 503 until start-up is over
    this.server = new HttpServer({
      host: config.http.host, port: config.http.port, bodyLimitBytes: config.timings.httpBodyLimitBytes,
      log: childLogger(log, "http"), readiness: () => this.readiness.report(), metrics: this.metrics,
    });
  }

  async start(): Promise<void> {
    this.port = (await this.server.start()).port;
  }

  /** The store, once open (the readiness store check). */
  useStore(store: Store): void {
    this.store = store;
    this.metrics.watchStore(() => store.writeStats());
  }

  /** The Matrix client, observed: every homeserver answer marks it alive; M_UNKNOWN_TOKEN marks the token rejected. */
  observe(http: MatrixHttp, tokenFix: string, onTokenRejected?: (error: MatrixRequestError) => void): MatrixHttp {
    this.observed = observeHomeserver(http, this.readiness, tokenFix, onTokenRejected);
    return this.observed;
  }

  /** The agents' links: the global default's decides readiness (and the link metric); every one is shown in /readyz. */
  watchAgents(agents: ReadonlyMap<string, { transport: WatchableLink }>, defaultAgent: string): void {
    for (const [name, { transport }] of agents) {
      if (name !== defaultAgent) {
        this.readiness.watchOtherLink(name, transport);
        continue;
      }
      this.readiness.watchLink(transport, name);
      this.metrics.watchLink(transport);
    }
  }

  /** What the bot has in hand (router, turns, outbox): the idle and work_in_flight metrics, and /status. */
  watchWork(probe: () => WorkInFlight): void {
    this.workProbe = probe;
    this.metrics.watchWork(probe);
  }

  /** The work in hand now; undefined until the bot is wired. */
  work(): WorkInFlight | undefined {
    return this.workProbe?.();
  }

  /** POST /proactive: the same pipeline as agent-initiated runs (disabled without PROACTIVE_TOKEN). */
  acceptProactivePushes(fanout: ProactiveFanout): void {
    this.server.route("POST", "/proactive", async (req) => {
      const reply = await handleProactivePush(
        { authorization: req.headers.authorization, readBody: () => req.json() },
        { token: this.config.http.proactiveToken, fanout });
      return reply;
    });
  }

  /** GET /media: attachments served once to the agent by their signed URL (src/media/served.ts). */
  serveMedia(route: { path: string; handle: RouteHandler }): void {
    this.server.route("GET", route.path, route.handle);
  }

  /** Start-up is over: /readyz and the `ready` log line (with `fields`) follow the checks from now on, one rule. */
  started(fields: Record<string, unknown>): void {
    this.readyLog ??= new ReadyLog({ tracker: this.readiness, log: this.log, fields });
    this.readiness.started();
    this.readyLog.start();
  }

  stopping(): void {
    this.readyLog?.stop();
    this.readiness.stopping();
  }

  async stop(): Promise<void> {
    await this.server.stop();
  }
}
