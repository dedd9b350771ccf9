// Named points in the message path where crash tests kill the bot (SIGKILL) to prove nothing is lost or
// doubled. Production never installs a hook; main.ts installs one only when MAB_TEST_CRASH_AT is set.
export type Checkpoint =
  | "message-received" // a batch holding a message arrived, nothing journaled yet
  | "message-journaled" // the batch is journaled but not acknowledged (no sync token saved / no 200)
  | "reply-accepted" // the homeserver accepted a reply (or the first event of a live one), the journal does not know yet
  | "live-edit-accepted" // the homeserver accepted an edit of a live answer still being written
  | "attachment-uploaded" // an agent's file is uploaded (its mxc known), its message not recorded in the outbox yet
  | "room-key-acknowledged" // appservice E2EE: a transaction that brought a room key was answered 200
  | "late-key-reopened" // a message whose room key came late was read and reopened in the journal, not answered yet
  | "turn-settled" // one message of a finished run was marked handled in the journal (a batch's others may not be yet)
  | "proactive-chunk-queued" // the first rooms of a proactive run are committed to the outbox (and sending), the rest not yet
  | "proactive-queued" // a proactive run's deliveries are committed to the outbox, the agent is not acked yet
  | "provision-space-created" // createRoom made a user's space; the provisioning record does not know it yet
  | "provision-room-created"; // createRoom made the user's chat room; the provisioning record does not know it yet

let hook: ((point: Checkpoint) => void) | undefined;

export function installCheckpointHook(fn: ((point: Checkpoint) => void) | undefined): void {
  hook = fn;
}

export function checkpoint(point: Checkpoint): void {
  hook?.(point);
}
