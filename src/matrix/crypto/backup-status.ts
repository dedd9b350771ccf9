// What `npm run doctor` says about the key backup, from the state the running bot writes after each backup pass
// (key-backup.ts): the version, how many room keys are backed up and how many are not yet (the lag).
import { readBackupStatus } from "./key-backup";

export async function describeBackup(cryptoDir: string): Promise<string> {
  const status = await readBackupStatus(cryptoDir);
  if (!status) return "key backup: off (or the bot has not backed up yet): `npm run crypto -- setup` starts it (runbook/encryption.md)";
  const lag = status.total - status.backedUp;
  return `key backup: version ${status.version}, ${status.backedUp} of ${status.total} room keys backed up ` +
    `(lag ${lag}${lag > 0 ? ": the bot uploads them with its next pass" : ""}), as of ${status.updatedAt}`;
}
