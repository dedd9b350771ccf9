// `npm run register -- --server-name example.org [--url http://bot:9999] [--localpart agentbot] [--out registration.yaml]`
// Writes an appservice registration with fresh random tokens and prints what to add to Synapse's
// homeserver.yaml and to the bot's .env. Never prints a token. Exit codes: 0 written, 1 failed, 2 usage.
import * as fs from "node:fs";
import * as path from "node:path";
import { CliFailure, EXIT, firstLine, isUsageError, parseCommandLine, processIo, UsageError, writeFileAtomic, type CliIo } from "./cli-support";
import {
  buildRegistration,
  REGISTRATION_DEFAULTS,
  registrationInstructions,
  registrationRequestProblems,
  registrationYaml,
  type RegistrationRequest,
} from "./registration-file";
import { PRIVATE_UMASK } from "../util/private-files";

export const REGISTER_USAGE = `Usage: npm run register -- --server-name <name> [options]

Writes an appservice registration YAML with fresh random tokens for matrix-agent-bot.

  --server-name <name>  the homeserver's server_name, e.g. example.org (required)
  --url <url>           where the homeserver reaches the bot (default ${REGISTRATION_DEFAULTS.url})
  --localpart <name>    the bot user's localpart (default ${REGISTRATION_DEFAULTS.localpart})
  --id <id>             the appservice id (default ${REGISTRATION_DEFAULTS.id})
  --out <file>          where to write it (default ${REGISTRATION_DEFAULTS.out})
  --force               replace an existing file (its tokens stop working)
  --help                show this text`;

export function runRegister(argv: string[], io: CliIo, cwd: string): number {
  try {
    const values = parseCommandLine(argv, {
      "server-name": { type: "string" },
      url: { type: "string", default: REGISTRATION_DEFAULTS.url },
      localpart: { type: "string", default: REGISTRATION_DEFAULTS.localpart },
      id: { type: "string", default: REGISTRATION_DEFAULTS.id },
      out: { type: "string", default: REGISTRATION_DEFAULTS.out },
      force: { type: "boolean", default: false },
    }, REGISTER_USAGE, io);
    if (values === undefined) return EXIT.ok;
    if (values["server-name"] === undefined) throw new UsageError("--server-name is required (e.g. --server-name example.org)");
    const request: RegistrationRequest = {
      id: values.id,
      url: values.url,
      localpart: values.localpart,
      serverName: values["server-name"],
    };
    const problems = registrationRequestProblems(request);
    if (problems.length > 0) throw new UsageError(problems.join("\n"));
    const file = path.resolve(cwd, values.out);
    if (fs.existsSync(file) && !values.force) {
      throw new CliFailure(`${file} already exists. Replacing it gives the appservice new tokens: the homeserver and the ` +
        "bot must both load the new file. Run again with --force to replace it, or choose another --out.");
    }
    if (!fs.existsSync(path.dirname(file))) throw new CliFailure(`the directory ${path.dirname(file)} does not exist`);
    const registration = buildRegistration(request);
    writeFileAtomic(file, registrationYaml(registration), 0o600);
    for (const line of registrationInstructions(registration, request, file)) io.out(line);
    return EXIT.ok;
  } catch (error) {
    return reportFailure(error, io);
  }
}

function reportFailure(error: unknown, io: CliIo): number {
  if (isUsageError(error)) {
    for (const line of (error as Error).message.split("\n")) io.err(`register: ${line}`);
    io.err("");
    io.err(REGISTER_USAGE);
    return EXIT.usage;
  }
  io.err(`register: ${error instanceof CliFailure ? error.message : firstLine(error)}`);
  return EXIT.failed;
}


if (require.main === module) {
  process.umask(PRIVATE_UMASK); // files it writes (credentials, registration, store copies) are its user's only
  process.exitCode = runRegister(process.argv.slice(2), processIo(process.stdout, process.stderr), process.cwd());
}
