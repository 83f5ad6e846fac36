/**
 * `pitrix-operator run`: builds the manager, the platform access layer and one controller per
 * kind, then runs until SIGTERM/SIGINT: stop taking work, let running reconciles reach a step
 * boundary, release the Lease, exit 0.
 */
import { parseArgs } from 'node:util';
import { registerKind } from '../api/kinds.js';
import { type ControllerDeps, type Informers, resourceType } from '../controllers/deps.js';
import { registerControllers } from '../controllers/index.js';
import { Platform } from '../controllers/platform.js';
import { RUNBOOKS, type RunbookRegistration } from '../controllers/registry.js';
import { KubeClient, loadKubeConfig } from '../runtime/kube.js';
import { createLogger } from '../runtime/log.js';
import { Manager } from '../runtime/manager.js';

export interface RunOptions {
  kubeconfig?: string;
  namespace?: string;
  metricsHost: string;
  metricsPort: number;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  maxConcurrentReconciles: number;
  sshMaxConnections: number;
  sshConnectTimeoutMs: number;
  sshCommandTimeoutMs: number;
  resyncMs: number;
  logLevel?: string;
}

/** `run`'s flags (main.ts USAGE lists them) into RunOptions; a bad value names its flag. */
export function parseRunArgs(args: string[]): RunOptions {
  const { values } = parseArgs({
    args,
    allowNegative: true,
    options: {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      'metrics-bind-address': { type: 'string', default: '0.0.0.0:8080' },
      'leader-elect': { type: 'boolean', default: true },
      'leader-election-namespace': { type: 'string' },
      'leader-election-id': { type: 'string', default: 'pitrix-operator-leader' },
      'lease-duration': { type: 'string', default: '15s' },
      'renew-deadline': { type: 'string', default: '10s' },
      'retry-period': { type: 'string', default: '2s' },
      'max-concurrent-reconciles': { type: 'string', default: '4' },
      'ssh-max-connections': { type: 'string', default: '64' },
      'ssh-connect-timeout': { type: 'string', default: '15s' },
      'ssh-command-timeout': { type: 'string', default: '30m' },
      'resync-period': { type: 'string', default: '10m' },
      'log-level': { type: 'string' },
    },
  });
  const [host, port] = splitHostPort(values['metrics-bind-address']!);
  return {
    kubeconfig: values.kubeconfig,
    namespace: values.namespace,
    metricsHost: host,
    metricsPort: port,
    leaderElect: values['leader-elect']!,
    leaderElectionNamespace:
      values['leader-election-namespace'] ?? process.env.POD_NAMESPACE ?? 'pitrix-system',
    leaderElectionId: values['leader-election-id']!,
    leaseDurationMs: parseDuration(values['lease-duration']!, '--lease-duration'),
    renewDeadlineMs: parseDuration(values['renew-deadline']!, '--renew-deadline'),
    retryPeriodMs: parseDuration(values['retry-period']!, '--retry-period'),
    maxConcurrentReconciles: positiveInt(values['max-concurrent-reconciles']!, '--max-concurrent-reconciles'),
    sshMaxConnections: positiveInt(values['ssh-max-connections']!, '--ssh-max-connections'),
    sshConnectTimeoutMs: parseDuration(values['ssh-connect-timeout']!, '--ssh-connect-timeout'),
    sshCommandTimeoutMs: parseDuration(values['ssh-command-timeout']!, '--ssh-command-timeout'),
    resyncMs: parseDuration(values['resync-period']!, '--resync-period'),
    logLevel: values['log-level'],
  };
}

export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`${flag}: "${text}" is not a duration; use a number with ms, s, m or h, like 15s`);
  const n = Number(m[1]);
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

function splitHostPort(v: string): [string, number] {
  const i = v.lastIndexOf(':');
  const port = Number(v.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--metrics-bind-address: "${v}" is not HOST:PORT, like 0.0.0.0:8080`);
  }
  return [v.slice(0, i) || '0.0.0.0', port];
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: "${v}" must be a positive integer`);
  return n;
}

export interface Operator {
  manager: Manager;
  start(): Promise<void>;
  /** Stop taking work, let running reconciles reach a step boundary, close SSH connections. */
  stop(): Promise<void>;
}

/**
 * The manager with one controller per registration (the shipped runbooks by default; a runbook
 * defined elsewhere is one more entry), ready to start.
 */
export function buildOperator(
  opts: RunOptions,
  runbooks: readonly RunbookRegistration[] = RUNBOOKS,
): Operator {
  const log = createLogger({ level: opts.logLevel });
  const client = new KubeClient(loadKubeConfig(opts.kubeconfig));
  const manager = new Manager({
    client,
    log,
    namespace: opts.namespace,
    metricsHost: opts.metricsHost,
    metricsPort: opts.metricsPort,
    resyncMs: opts.resyncMs,
    leaderElection: {
      enabled: opts.leaderElect,
      namespace: opts.leaderElectionNamespace,
      name: opts.leaderElectionId,
      leaseDurationMs: opts.leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs,
      retryPeriodMs: opts.retryPeriodMs,
    },
  });
  const platform = new Platform(client, {
    maxConnectionsPerZone: opts.sshMaxConnections,
    connectTimeoutMs: opts.sshConnectTimeoutMs,
    commandTimeoutMs: opts.sshCommandTimeoutMs,
    observer: manager.metrics.sshObserver(),
  });
  for (const r of runbooks) registerKind(r.info);
  const informers = Object.fromEntries(
    runbooks.map((r) => [r.informer, manager.informer(resourceType(r.info))]),
  ) as Informers;
  const informerByKind = new Map(runbooks.map((r) => [r.info.kind, informers[r.informer]!]));
  const deps: ControllerDeps = {
    client,
    informers,
    informerOf: (kind) => informerByKind.get(kind),
    status: manager.status,
    events: manager.events,
    metrics: manager.metrics,
    platform,
    log,
  };
  registerControllers(manager, deps, { maxConcurrentReconciles: opts.maxConcurrentReconciles }, runbooks);
  manager.metrics.zoneLocksFrom(() => deps.informers.zone.list());
  return {
    manager,
    async start() {
      await manager.start();
      const addr = manager.metricsAddress;
      log.info(
        { metrics: addr ? `${addr.address}:${addr.port}` : undefined, namespace: opts.namespace ?? '(all)' },
        'operator started',
      );
    },
    stop: () => manager.stop().then(() => platform.close()),
  };
}

/** `pitrix-operator run`: the shipped runbooks until SIGTERM/SIGINT, then a clean stop and exit 0. */
export async function runOperator(
  opts: RunOptions,
  runbooks: readonly RunbookRegistration[] = RUNBOOKS,
): Promise<void> {
  const operator = buildOperator(opts, runbooks);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    operator.manager.log.info({ signal }, 'signal received');
    void operator.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await operator.start();
}
