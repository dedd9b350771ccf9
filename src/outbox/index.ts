export { Outbox } from "./outbox";
export type { OutboxOptions } from "./options";
export type { OutboxStats } from "./ledger";
export { OUTBOX_NAMESPACES } from "./outbox-store";
export { deadLetterSchema, outboxEntryInputSchema, type DeadLetter, type OutboxEntryInput, type OutboxOrigin } from "./records";
export { OutboxStoppedError, OutboxStoreError } from "./results";
