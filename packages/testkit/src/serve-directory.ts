import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve, sep } from 'node:path';

export interface DirectoryServer {
  /** `http://127.0.0.1:<port>`: a file `<dir>/a/b` is at `<url>/a/b`. */
  url: string;
  stop(): Promise<void>;
}

/**
 * A read-only HTTP server over a directory (GET and HEAD, with byte ranges), for readers that
 * open tables by URL: an Iceberg table on local disk read the way a public bucket would be.
 */
export async function serveDirectory(dir: string): Promise<DirectoryServer> {
  const root = resolve(dir);
  const server = createServer(async (req, res) => {
    const path = resolve(root, `.${decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)}`);
    const size = path.startsWith(root + sep)
      ? await stat(path).then(
          (s) => (s.isFile() ? s.size : undefined),
          () => undefined,
        )
      : undefined;
    if (size === undefined) {
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    if (range) {
      start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
      end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : end;
      res.writeHead(206, {
        'content-length': end - start + 1,
        'content-range': `bytes ${start}-${end}/${size}`,
        'accept-ranges': 'bytes',
      });
    } else {
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' });
    }
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    createReadStream(path, { start, end }).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    stop() {
      stopped ??= new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      });
      return stopped;
    },
  };
}
