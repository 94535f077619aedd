/** Starting and stopping an HTTP server the same way in every daemon. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  /** The bound port (useful when asked for port 0). */
  port: number;
  /** Stop accepting, drop open connections, resolve when closed. */
  close(): Promise<void>;
}

/**
 * Listen on `port` (0 = any free port) at `host` ('' = all interfaces); rejects on a bind error
 * such as EADDRINUSE instead of emitting it later.
 *
 * @example
 * const { port, close } = await listen(http.createServer(handler), 0, '127.0.0.1');
 */
export async function listen(server: Server, port: number, host = ''): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host || undefined, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
