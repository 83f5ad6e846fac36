/**
 * Prometheus metrics under controller-runtime's names and labels, so dashboards and alerts
 * written for Go operators work unchanged, plus process metrics from prom-client.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { actionOf } from '../runbook/step.js';
import type { SshObserver } from '../ssh/pool-options.js';
import type { QueueMetrics } from './queue.js';
import { type LockedZone, zoneLockLabels } from './zonelocks.js';

export type ReconcileResultLabel = 'success' | 'error' | 'requeue' | 'requeue_after';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Total number of reconciliations per controller',
    labelNames: ['controller', 'result'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Total number of reconciliation errors per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly terminalErrors = new Counter({
    name: 'controller_runtime_terminal_reconcile_errors_total',
    help: 'Total number of terminal reconciliation errors per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly reconcilePanics = new Counter({
    name: 'controller_runtime_reconcile_panics_total',
    help: 'Total number of reconciliation panics (unexpected exceptions) per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly reconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Length of time per reconciliation per controller',
    labelNames: ['controller'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly activeWorkers = new Gauge({
    name: 'controller_runtime_active_workers',
    help: 'Number of currently used workers per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly maxWorkers = new Gauge({
    name: 'controller_runtime_max_concurrent_reconciles',
    help: 'Maximum number of concurrent reconciles per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'workqueue_depth',
    help: 'Current depth of workqueue',
    labelNames: ['name', 'controller'] as const,
    registers: [this.registry],
  });
  readonly queueAdds = new Counter({
    name: 'workqueue_adds_total',
    help: 'Total number of adds handled by workqueue',
    labelNames: ['name', 'controller'] as const,
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: 'workqueue_retries_total',
    help: 'Total number of retries handled by workqueue',
    labelNames: ['name', 'controller'] as const,
    registers: [this.registry],
  });
  readonly queueLatency = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested',
    labelNames: ['name', 'controller'] as const,
    buckets: [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1000],
    registers: [this.registry],
  });
  readonly workDuration = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes',
    labelNames: ['name', 'controller'] as const,
    buckets: [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1000],
    registers: [this.registry],
  });
  readonly unfinishedWork = new Gauge({
    name: 'workqueue_unfinished_work_seconds',
    help: 'How many seconds of work has been done that is in progress',
    labelNames: ['name', 'controller'] as const,
    registers: [this.registry],
  });
  readonly longestRunning = new Gauge({
    name: 'workqueue_longest_running_processor_seconds',
    help: 'How many seconds has the longest running processor for workqueue been running',
    labelNames: ['name', 'controller'] as const,
    registers: [this.registry],
  });
  readonly leaderStatus = new Gauge({
    name: 'leader_election_master_status',
    help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 master',
    labelNames: ['name'] as const,
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: 'pitrix_operator_watch_restarts_total',
    help: 'Watches re-established, by kind and reason (closed, error, stale, gone)',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });
  readonly statusWrites = new Counter({
    name: 'pitrix_operator_status_writes_total',
    help: 'Status subresource writes, by kind and outcome (written, unchanged, conflict)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly conditionStatus = new Gauge({
    name: 'pitrix_operator_resource_condition',
    help: 'Condition of each resource: 1 for the status it currently has (True, False, Unknown), else 0',
    labelNames: ['kind', 'namespace', 'name', 'type', 'status'] as const,
    registers: [this.registry],
  });
  readonly sshFailures = new Counter({
    name: 'pitrix_operator_ssh_failures_total',
    help: 'SSH failures by host and reason (connect, auth, hostkey, timeout, dropped)',
    labelNames: ['host', 'reason'] as const,
    registers: [this.registry],
  });

  /** Runbook step durations by kind and step (the id up to its first '-': bounded by the runbooks). */
  readonly stepDuration = new Histogram({
    name: 'pitrix_operator_step_duration_seconds',
    help: 'Duration of runbook steps by kind, step and outcome (Succeeded, Failed)',
    labelNames: ['kind', 'step', 'outcome'] as const,
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200],
    registers: [this.registry],
  });
  readonly stepFailures = new Counter({
    name: 'pitrix_operator_step_failures_total',
    help: 'Runbook steps that failed, by kind and step',
    labelNames: ['kind', 'step'] as const,
    registers: [this.registry],
  });
  readonly sshConnections = new Gauge({
    name: 'pitrix_operator_ssh_connections',
    help: 'SSH connections open, by host (the zone firstbox and the nodes reached through it)',
    labelNames: ['host'] as const,
    registers: [this.registry],
  });
  private zoneLockSource: () => Iterable<LockedZone> = () => [];
  /**
   * Read from the Zones' status.lock at scrape time (the lock lives there, not in this process),
   * so every replica reports the same locks and one released by another replica disappears.
   */
  readonly zoneLocks = new Gauge({
    name: 'pitrix_operator_zone_locks_held',
    help: 'Zone locks recorded in Zone status.lock (1 per held lock), by zone, operation and holder',
    labelNames: ['namespace', 'zone', 'operation', 'holder_kind', 'holder_name'] as const,
    registers: [this.registry],
    collect: () => {
      this.zoneLocks.reset();
      for (const zone of this.zoneLockSource()) {
        const labels = zoneLockLabels(zone);
        if (labels) this.zoneLocks.set(labels, 1);
      }
    },
  });
  private readonly rolloutProgress = new Map<string, { labels: ResourceLabels; at: number }>();
  readonly rolloutSinceProgress = new Gauge({
    name: 'pitrix_operator_rollout_seconds_since_progress',
    help: 'Seconds since an executing plan last made progress (a step succeeded); absent when no plan runs',
    labelNames: ['kind', 'namespace', 'name'] as const,
    registers: [this.registry],
    collect: () => {
      const now = Date.now();
      for (const { labels, at } of this.rolloutProgress.values())
        this.rolloutSinceProgress.set(labels, (now - at) / 1000);
    },
  });
  private readonly factsSeen = new Map<string, Map<string, number>>();
  readonly factsAge = new Gauge({
    name: 'pitrix_operator_facts_age_seconds',
    help: 'Seconds since the facts of a node (or a zone firstbox) were last observed',
    labelNames: ['kind', 'namespace', 'name', 'node'] as const,
    registers: [this.registry],
    collect: () => {
      const now = Date.now();
      for (const [key, nodes] of this.factsSeen) {
        const [kind, namespace, name] = JSON.parse(key) as [string, string, string];
        for (const [node, at] of nodes)
          this.factsAge.set({ kind, namespace, name, node }, Math.max(0, (now - at) / 1000));
      }
    },
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** The SSH pool's hooks: connections open and failures by reason. */
  sshObserver(): SshObserver {
    return {
      onConnect: (host) => this.sshConnections.inc({ host }),
      onDisconnect: (host) => this.sshConnections.dec({ host }),
      onFailure: (host, reason) => this.sshFailures.inc({ host, reason }),
    };
  }

  /** Where the zone-lock gauge reads the Zones from (the Zone informer's cache). */
  zoneLocksFrom(source: () => Iterable<LockedZone>): void {
    this.zoneLockSource = source;
  }

  /** A runbook step finished: its duration, and a failure count when it failed. */
  stepFinished(
    kind: string,
    finished: { id: string; action?: string },
    state: string,
    seconds: number,
  ): void {
    const step = stepLabel(finished);
    if (state === 'Succeeded' || state === 'Failed')
      this.stepDuration.observe({ kind, step, outcome: state }, seconds);
    if (state === 'Failed') this.stepFailures.inc({ kind, step });
  }

  /**
   * Rollout progress. `executing`: a plan runs (tracking starts now unless it already runs);
   * `progress`: a step succeeded; `idle`: complete, paused or awaiting approval (not a stall).
   */
  rollout(kind: string, namespace: string, name: string, event: 'executing' | 'progress' | 'idle'): void {
    const key = JSON.stringify([kind, namespace, name]);
    if (event === 'idle') {
      if (this.rolloutProgress.delete(key)) this.rolloutSinceProgress.remove({ kind, namespace, name });
      return;
    }
    if (event === 'executing' && this.rolloutProgress.has(key)) return;
    this.rolloutProgress.set(key, { labels: { kind, namespace, name }, at: Date.now() });
  }

  /**
   * Facts of a resource's nodes: `tracked` are the nodes that should have facts (others are
   * dropped), `observed` were observed just now. A tracked node never observed ages from the
   * first time it is tracked.
   */
  factsObserved(
    kind: string,
    namespace: string,
    name: string,
    tracked: readonly string[],
    observed: readonly string[],
  ): void {
    const key = JSON.stringify([kind, namespace, name]);
    const nodes = this.factsSeen.get(key) ?? new Map<string, number>();
    this.factsSeen.set(key, nodes);
    const now = Date.now();
    const keep = new Set(tracked);
    for (const node of [...nodes.keys()]) {
      if (keep.has(node)) continue;
      nodes.delete(node);
      this.factsAge.remove({ kind, namespace, name, node });
    }
    for (const node of tracked) if (!nodes.has(node)) nodes.set(node, now);
    for (const node of observed) if (keep.has(node)) nodes.set(node, now);
  }

  /** Every per-controller counter at 0 (controller-runtime initialises the same series). */
  initController(controller: string): void {
    const labels = { controller };
    for (const result of ['success', 'error', 'requeue', 'requeue_after'])
      this.reconcileTotal.inc({ ...labels, result }, 0);
    this.reconcileErrors.inc(labels, 0);
    this.terminalErrors.inc(labels, 0);
    this.reconcilePanics.inc(labels, 0);
    this.queueAdds.inc({ name: controller, controller }, 0);
    this.queueRetries.inc({ name: controller, controller }, 0);
  }

  queueMetricsFor(controller: string): QueueMetrics {
    const labels = { name: controller, controller };
    return {
      depth: (n) => this.queueDepth.set(labels, n),
      add: () => this.queueAdds.inc(labels),
      retry: () => this.queueRetries.inc(labels),
      queueDuration: (s) => this.queueLatency.observe(labels, s),
      workDuration: (s) => this.workDuration.observe(labels, s),
    };
  }

  private readonly conditionTypes = new Map<string, Set<string>>();

  /** Publishes a resource's conditions as 0/1 per possible status, so alerts can match `== 1`. */
  setConditions(
    kind: string,
    namespace: string,
    name: string,
    conditions: ReadonlyArray<{ type: string; status: string }>,
  ): void {
    const key = `${kind}/${namespace}/${name}`;
    const types = this.conditionTypes.get(key) ?? new Set<string>();
    this.conditionTypes.set(key, types);
    for (const c of conditions) {
      types.add(c.type);
      for (const s of ['True', 'False', 'Unknown']) {
        this.conditionStatus.set({ kind, namespace, name, type: c.type, status: s }, c.status === s ? 1 : 0);
      }
    }
  }

  /** Drops a deleted resource's series, keeping label cardinality bounded by live objects. */
  forgetResource(kind: string, namespace: string, name: string): void {
    const key = `${kind}/${namespace}/${name}`;
    for (const type of this.conditionTypes.get(key) ?? []) {
      for (const status of ['True', 'False', 'Unknown']) {
        this.conditionStatus.remove({ kind, namespace, name, type, status });
      }
    }
    this.conditionTypes.delete(key);
    this.rollout(kind, namespace, name, 'idle');
    this.factsObserved(kind, namespace, name, [], []);
    this.factsSeen.delete(JSON.stringify([kind, namespace, name]));
  }
}

type ResourceLabels = { kind: string; namespace: string; name: string };

/**
 * The step label: the step's runbook action (`modifyNodeAttributes` for
 * `modifyNodeAttributes-10.0.0.5-sdb`), or its id when it has none, so steps repeated per node or
 * subject do not multiply series with the node count. Read from the step's typed action, never
 * parsed out of its id.
 */
export function stepLabel(step: { id: string; action?: string }): string {
  return actionOf(step);
}
