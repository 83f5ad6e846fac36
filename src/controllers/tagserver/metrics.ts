/** The tag migration's verdict per zone as Prometheus gauges (alerts: errored > 0, verified == 0). */
import { Gauge, type Registry } from 'prom-client';
import type { MigrationResult } from '../../api/tagserver.js';
import type { OperatorMetrics } from '../../runtime/metrics.js';

export interface TagMetrics {
  migrated: Gauge<'namespace' | 'name' | 'zone'>;
  warned: Gauge<'namespace' | 'name' | 'zone'>;
  errored: Gauge<'namespace' | 'name' | 'zone'>;
  verified: Gauge<'namespace' | 'name' | 'zone'>;
}
const metricsByRegistry = new WeakMap<Registry, TagMetrics>();

/** Per zone of a TagServer (at most 64 zones each): usable in alerts such as errored > 0 or verified == 0. */
export function tagMetrics(metrics: OperatorMetrics): TagMetrics {
  const registry = metrics.registry;
  let m = metricsByRegistry.get(registry);
  if (!m) {
    const labelNames = ['namespace', 'name', 'zone'] as const;
    m = {
      migrated: new Gauge({
        name: 'pitrix_tagserver_migrated_tags',
        help: 'Tags the insert pass of the tag migration inserted, per zone (R1.6 "+")',
        labelNames,
        registers: [registry],
      }),
      warned: new Gauge({
        name: 'pitrix_tagserver_warned_tags',
        help: 'Tags the tag migration reported as warnings (same owner and name in another zone), per zone (R1.6 "W")',
        labelNames,
        registers: [registry],
      }),
      errored: new Gauge({
        name: 'pitrix_tagserver_errored_tags',
        help: 'Tags the tag migration reported as errors, per zone (R1.6 "X")',
        labelNames,
        registers: [registry],
      }),
      verified: new Gauge({
        name: 'pitrix_tagserver_migration_verified',
        help: '1 when the zone migration verified (total_count == inserted + warnings, no errors, update pass inserted nothing)',
        labelNames,
        registers: [registry],
      }),
    };
    metricsByRegistry.set(registry, m);
  }
  return m;
}

/**
 * The gauges of each TagServer's zones: a zone that leaves a TagServer, or a TagServer that is
 * deleted, takes its series with it (a stale "verified 0" would page someone for nothing).
 */
export class TagVerdictGauges {
  private readonly zonesSeen = new Map<string, Set<string>>();

  constructor(private readonly m: TagMetrics) {}

  update(
    req: { namespace: string; name: string },
    results: Array<{ zone: string; r: MigrationResult }>,
  ): void {
    const key = `${req.namespace}/${req.name}`;
    const current = new Set(results.map((x) => x.zone));
    for (const z of this.zonesSeen.get(key) ?? []) if (!current.has(z)) this.remove(req, z);
    for (const { zone, r } of results) {
      const labels = { namespace: req.namespace, name: req.name, zone };
      if (r.inserted !== undefined) this.m.migrated.set(labels, r.inserted);
      if (r.warnings !== undefined) this.m.warned.set(labels, r.warnings);
      if (r.errors !== undefined) this.m.errored.set(labels, r.errors);
      this.m.verified.set(labels, r.verified ? 1 : 0);
    }
    this.zonesSeen.set(key, current);
  }

  forget(req: { namespace: string; name: string }): void {
    const key = `${req.namespace}/${req.name}`;
    for (const z of this.zonesSeen.get(key) ?? []) this.remove(req, z);
    this.zonesSeen.delete(key);
  }

  private remove(req: { namespace: string; name: string }, zone: string): void {
    for (const g of Object.values(this.m)) g.remove({ namespace: req.namespace, name: req.name, zone });
  }
}
