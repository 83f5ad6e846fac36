/**
 * `pitrix-operator run`: builds the manager, the platform access layer and one controller per
 * kind, then runs until SIGTERM/SIGINT: stop taking work, let running reconciles reach a step
 * boundary, release the Lease, exit 0.
 */
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
    observer: {
      onFailure: (host, reason) => manager.metrics.sshFailures.inc({ host, reason }),
    },
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
