// Starting and stopping a node:http server the way the appservice listener needs: listen() rejects when the port
// cannot be bound; closeGracefully() stops accepting, lets requests in progress answer (up to `graceMs`), then cuts
// the connections left.
import type * as http from "node:http";

export async function listen(server: http.Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** `active`: the requests in progress (each settles when answered). */
export async function closeGracefully(server: http.Server, active: ReadonlySet<Promise<void>>, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, graceMs);
    timer.unref();
  });
  await Promise.race([Promise.allSettled([...active]), grace]);
  server.closeIdleConnections();
  await Promise.race([closed, grace]);
  clearTimeout(timer);
  server.closeAllConnections();
  await closed;
}
