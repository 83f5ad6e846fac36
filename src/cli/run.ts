/**
 * `pitrix-operator run`: builds the manager, the platform access layer and one controller per
 * kind, then runs until SIGTERM/SIGINT: stop taking work, let running reconciles reach a step
 * boundary, release the Lease, exit 0.
 */
import { componentKind, nodePoolKind, tagServerKind, webserviceUpgradeKind, zoneKind } from '../api/kinds.js';
import { type ControllerDeps, resourceType } from '../controllers/deps.js';
import { registerControllers } from '../controllers/index.js';
import { Platform } from '../controllers/platform.js';
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

export async function runOperator(opts: RunOptions): Promise<void> {
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
  const deps: ControllerDeps = {
    client,
    informers: {
      zone: manager.informer(resourceType(zoneKind)),
      nodePool: manager.informer(resourceType(nodePoolKind)),
      component: manager.informer(resourceType(componentKind)),
      tagServer: manager.informer(resourceType(tagServerKind)),
      webserviceUpgrade: manager.informer(resourceType(webserviceUpgradeKind)),
    },
    status: manager.status,
    events: manager.events,
    metrics: manager.metrics,
    platform,
    log,
  };
  registerControllers(manager, deps, { maxConcurrentReconciles: opts.maxConcurrentReconciles });
  manager.metrics.zoneLocksFrom(() => deps.informers.zone.list());

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'signal received');
    void manager
      .stop()
      .then(() => platform.close())
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await manager.start();
  const addr = manager.metricsAddress;
  log.info(
    { metrics: addr ? `${addr.address}:${addr.port}` : undefined, namespace: opts.namespace ?? '(all)' },
    'operator started',
  );
}
