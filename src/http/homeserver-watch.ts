// Feeds the readiness tracker from the bot's own traffic: every answer of the homeserver (success, or a Matrix
// error with an HTTP status) marks it alive; M_UNKNOWN_TOKEN marks the token rejected, a success accepted.
import { MatrixRequestError } from "../matrix/errors";
import type { MatrixHttp } from "../matrix/http";
import type { ReadinessTracker } from "./readiness";

type Watched = Pick<ReadinessTracker, "homeserverAnswered" | "tokenRejected" | "tokenAccepted">;

/** `http` with every request observed by `tracker`. Requests and results are passed through unchanged. */
export function observeHomeserver(http: MatrixHttp, tracker: Watched, tokenFix?: string,
  onTokenRejected?: (error: MatrixRequestError) => void): MatrixHttp {
  return {
    async request<T>(...args: Parameters<MatrixHttp["request"]>): Promise<T> {
      try {
        const result = await http.request<T>(...args);
        tracker.homeserverAnswered();
        tracker.tokenAccepted();
        return result;
      } catch (error) {
        if (error instanceof MatrixRequestError && error.status !== undefined) {
          tracker.homeserverAnswered();
          if (error.kind === "unknown_token") {
            tracker.tokenRejected(`the homeserver rejected the bot's access token (${error.errcode ?? error.status})${tokenFix ? `: ${tokenFix}` : ""}`);
            onTokenRejected?.(error);
          }
        }
        throw error;
      }
    },
  };
}

/**
 * A probe for ReadinessTracker's `probeHomeserver` over an observed MatrixHttp: whoami (cheap, and it checks
 * the token too). Resolves whenever the homeserver answered, whatever it said.
 */
export function whoamiProbe(observed: MatrixHttp): () => Promise<void> {
  return async () => {
    try {
      await observed.request("GET", "/_matrix/client/v3/account/whoami");
    } catch (error) {
      if (error instanceof MatrixRequestError && error.status !== undefined) return;
      throw error;
    }
  };
}
