// Any test during which an unhandledRejection or uncaughtException fired fails, with the reason.
const problems: string[] = [];

function describeReason(kind: string, reason: unknown): string {
  const text = reason instanceof Error ? `${reason.name}: ${reason.message}\n${reason.stack ?? ""}` : String(reason);
  return `${kind}: ${text}`;
}

const onRejection = (reason: unknown): void => {
  problems.push(describeReason("unhandledRejection", reason));
};
const onException = (error: unknown): void => {
  problems.push(describeReason("uncaughtException", error));
};

process.on("unhandledRejection", onRejection);
process.on("uncaughtException", onException);

afterEach(async () => {
  // Let rejections created at the very end of the test surface before we look.
  await new Promise((resolve) => setImmediate(resolve));
  if (problems.length > 0) {
    const found = problems.splice(0);
    throw new Error(`process-level failure during this test:\n${found.join("\n")}`);
  }
});

afterAll(() => {
  process.off("unhandledRejection", onRejection);
  process.off("uncaughtException", onException);
});
