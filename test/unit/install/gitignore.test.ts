// Files holding tokens are never committed by accident: what `npm run login` and `npm run register` write, wherever
// in the tree (DATA_DIR may be anywhere), is git-ignored; the source files with similar names are not.
import { spawnSync } from "node:child_process";
import { ROOT } from "../../support/bot-harness";

function ignored(paths: string[]): string[] {
  const run = spawnSync("git", ["check-ignore", "--no-index", "--stdin"], { cwd: ROOT, input: paths.join("\n"), encoding: "utf8" });
  if (run.status !== 0 && run.status !== 1) throw new Error(`git check-ignore failed: ${run.stderr}`);
  return run.stdout.split("\n").filter((l) => l !== "");
}

describe(".gitignore", () => {
  it("ignores credentials.json and registration files wherever they are written", () => {
    const tokenFiles = ["credentials.json", "data/credentials.json", "state/credentials.json", "registration.yaml",
      "deploy/appservice-registration.yaml", "registration.yml", ".env"];
    expect(ignored(tokenFiles)).toEqual(tokenFiles);
  });

  it("does not ignore the sources and examples", () => {
    expect(ignored(["src/cli/registration-file.ts", "src/config/registration.ts", ".env.example", "docker-compose.yml"])).toEqual([]);
  });
});
