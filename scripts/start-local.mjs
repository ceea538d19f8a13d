// Starts both services as separate processes against this machine's PostgreSQL and Redis and
// stops them together on Ctrl-C.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const services = [
  { name: 'database-service', port: process.env.DATABASE_SERVICE_PORT ?? '3000' },
  { name: 'archival-service', port: process.env.ARCHIVAL_SERVICE_PORT ?? '3001' },
];
const children = services.map(({ name, port }) =>
  spawn(process.execPath, [`services/${name}/dist/main.js`], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, PORT: port },
  }),
);
let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill(signal);
}
process.on('SIGINT', () => stop('SIGTERM'));
process.on('SIGTERM', () => stop('SIGTERM'));
for (const child of children) {
  child.on('exit', (code) => {
    if (!stopping) {
      console.error(`a service exited (code ${code}); stopping the others`);
      stop('SIGTERM');
      process.exitCode = code ?? 1;
    }
  });
}
