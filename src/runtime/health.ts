/**
 * The operator's HTTP endpoints: `/metrics` (Prometheus), `/healthz` (the process is alive and its
 * event loop turns), `/readyz` (caches synced). A standby replica serves all three: being ready
 * does not require being the leader.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthChecks {
  ready(): boolean;
  healthy(): boolean;
}

export function startHealthServer(
  port: number,
  host: string,
  registry: Registry,
  checks: HealthChecks,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(body);
        })
        .catch((err) => {
          res.writeHead(500);
          res.end(String(err));
        });
      return;
    }
    const check =
      path === '/healthz' || path === '/livez'
        ? checks.healthy
        : path === '/readyz'
          ? checks.ready
          : undefined;
    if (!check) {
      res.writeHead(404);
      res.end('not found\n');
      return;
    }
    const ok = check();
    res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' });
    res.end(ok ? 'ok\n' : 'not ready\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
