/**
 * Errors raised by the store. Each carries two texts: `message` for the log (may name paths, schemes,
 * packages; never a password) and `userMessage`, safe to show to a Matrix user.
 */
export class StoreError extends Error {
  readonly userMessage: string;

  constructor(message: string, userMessage: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.userMessage = userMessage;
  }
}

/** STORE_URL is malformed, names an unknown scheme, or needs an npm package that is not installed. */
export class StoreConfigError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "The bot's storage is misconfigured; an operator needs to fix it.", options);
  }
}

/** The store did not answer correctly (health check failed, timed out, connection lost). */
export class StoreUnavailableError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "The bot's storage is unavailable right now; please try again later.", options);
  }
}
