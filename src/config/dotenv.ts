// `.env` in the working directory, read alike by the bot, `npm run agent` and the operator commands. Variables
// already in the environment win; an empty value (`DATA_DIR=`) counts as unset everywhere (readVariable).
import * as fs from "node:fs";
import * as path from "node:path";

/** Loads `<cwd>/.env` through `load` (process.loadEnvFile in the entry points) when it exists. */
export function loadDotEnv(cwd: string, load: (file: string) => void): void {
  const file = path.join(cwd, ".env");
  if (fs.existsSync(file)) load(file);
}
