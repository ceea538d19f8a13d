import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from '@chunk-archiver/testkit';

export type ProxyMode = 'pass' | 'down' | 'errors';

export interface FaultProxy {
  port: number;
  /** pass: forward; down: refuse and cut every connection; errors: answer every request 503. */
  setMode(mode: ProxyMode): void;
  stop(): Promise<void>;
}

const UNAVAILABLE =
  'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nunavailable';

/** A TCP proxy in front of a storage server, so a test can take it away or make it fail. */
export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  let mode: ProxyMode = 'pass';
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (mode === 'down') {
      client.destroy();
      return;
    }
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    if (mode === 'errors') {
      client.once('data', () => client.end(UNAVAILABLE));
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    setMode(next) {
      mode = next;
      // Connections kept alive from before must fail too, as when a host goes away.
      if (next !== 'pass') for (const socket of open) socket.destroy();
    },
    async stop() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
