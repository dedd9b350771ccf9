// `npm run agent`: the reference agent as its own process. Reads its environment (and .env, like the bot) through
// loadAgentConfig (echo mode unless LLM_BASE_URL is set); a bad configuration prints every problem and exits 2.
import { loadDotEnv } from "../config/dotenv";
import { createLogger } from "../log";
import { loadAgentConfig } from "./config";
import { startReferenceAgentFromConfig } from "./from-config";
import { PRIVATE_UMASK } from "../util/private-files";

async function main(): Promise<void> {
  process.umask(PRIVATE_UMASK); // its memory (DATA_DIR/agent.sqlite) is readable by its own user only
  loadDotEnv(process.cwd(), (file) => process.loadEnvFile(file));
  const loaded = loadAgentConfig(process.env);
  if (!loaded.ok) {
    process.stderr.write(`${loaded.message}\n`);
    process.exit(2);
  }
  const config = loaded.config;
  const logger = createLogger({ level: config.logLevel, secrets: config.secrets, pretty: process.stdout.isTTY === true });
  const agent = await startReferenceAgentFromConfig(config, { logger });
  logger.info({ url: agent.url, ...(agent.httpUrl ? { httpUrl: agent.httpUrl } : {}), auth: config.token !== undefined, mode: agent.mode },
    "reference agent ready");

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "reference agent stopping");
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    agent.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "reference agent: close failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`reference agent failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
