// The configuration of the bot: `loadConfig(process.env)` in main.ts; everything else takes a Config.
export { ConfigRefusedError, loadConfig, type Config, type ConfigResult, type LoadOptions } from "./load";
export { formatProblems, type ConfigProblem, type Env, type LoadResult } from "./problems";
export { ENV_VARIABLES, TIMING_VARIABLES, type Timings, type TimingVariable } from "./variables";
export {
  LOG_LEVELS,
  MATRIX_MODES,
  STORE_SCHEMES,
  registrationSchema,
  credentialsSchema,
  type Bind,
  type Credentials,
  type LogLevel,
  type MatrixMode,
  type Registration,
} from "./schema";
export { loadDotEnv } from "./dotenv";
