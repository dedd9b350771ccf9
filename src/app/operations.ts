// What operators watch: metrics, readiness, and the bot's own HTTP server (/healthz, /readyz, /metrics,
// POST /proactive). Started first, so /healthz answers while the bot is still connecting; stopped last.
import type { Logger } from "pino";
import type { Config } from "../config";
import { observeHomeserver, whoamiProbe } from "../http/homeserver-watch";
import { ReadinessTracker } from "../http/readiness";
import { HttpServer } from "../http/server";
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
  port: number | undefined;

  constructor(private readonly config: Config, log: Logger) {
    this.readiness = new ReadinessTracker({
      homeserverStaleMs: config.timings.homeserverStaleMs,
      storeHealthCheck: () => (this.store ? this.store.healthCheck() : Promise.reject(new Error("the store is not open yet"))),
      probeHomeserver: () => (this.observed ? whoamiProbe(this.observed)() : Promise.reject(new Error("not signed in yet"))),
    });
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
  }

  /** The Matrix client, observed: every homeserver answer marks it alive; M_UNKNOWN_TOKEN marks the token rejected. */
  observe(http: MatrixHttp, tokenFix: string, onTokenRejected?: (error: MatrixRequestError) => void): MatrixHttp {
    this.observed = observeHomeserver(http, this.readiness, tokenFix, onTokenRejected);
    return this.observed;
  }

  watchLink(link: { state(): string; onStateChange(cb: (state: string) => void): () => void }): void {
    this.readiness.watchLink(link);
    this.metrics.watchLink(link);
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
      return { status: reply.status, body: reply.body };
    });
  }

  stopping(): void {
    this.readiness.stopping();
  }

  async stop(): Promise<void> {
    await this.server.stop();
  }
}
