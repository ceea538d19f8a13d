import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './free-port.js';

export type FakeKind = 'http' | 'silent' | 'closes-mid-query';

export interface FakePostgres {
  kind: FakeKind;
  port: number;
  /** Connections it has accepted, to show the service really tried it. */
  connections(): number;
  stop(): Promise<void>;
}

/**
 * Something on a PostgreSQL port that is not a working PostgreSQL: a web server answering HTTP,
 * a server that accepts and never says a word, or a real PostgreSQL (behind this proxy) whose
 * connections close as soon as the first query arrives after the handshake.
 */
export async function startFakePostgres(
  kind: FakeKind,
  upstream: { host: string; port: number } = { host: '127.0.0.1', port: 5432 },
): Promise<FakePostgres> {
  const open = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    if (kind === 'http') {
      client.once('data', () =>
        client.end(
          'HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 11\r\n\r\nBad Request',
        ),
      );
      return;
    }
    if (kind === 'silent') return;
    const server = connect(upstream.port, upstream.host);
    open.add(server);
    server.on('close', () => open.delete(server));
    server.on('error', () => client.destroy());
    server.pipe(client);
    let messages = 0;
    client.on('data', (data) => {
      // The first message is the startup packet; whatever comes after the handshake is a query.
      if (++messages === 1) server.write(data);
      else {
        client.destroy();
        server.destroy();
      }
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    kind,
    port,
    connections: () => accepted,
    async stop() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
