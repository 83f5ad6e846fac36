import { describe, expect, it } from 'vitest';
import { kinds } from '../api/kinds.js';
import { aggregateRules, controllerRbac, LEADER_LEASE, renderRbac } from './rbac.js';

describe('RBAC declared beside the controllers', () => {
  const watched = aggregateRules(controllerRbac, 'watched');
  const operator = aggregateRules(controllerRbac, 'operator');
  const can = (rules: typeof watched, group: string, resource: string, verb: string) =>
    rules.some(
      (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
    );

  it('has no wildcard and nothing beyond the five kinds, Secrets, Events and Leases', () => {
    for (const r of [...watched, ...operator]) {
      for (const v of [...r.apiGroups, ...r.resources, ...r.verbs]) expect(v).not.toContain('*');
      for (const res of r.resources)
        expect(res).toMatch(
          /^(zones|nodepools|components|tagservers|webserviceupgrades)(\/status|\/finalizers)?$|^secrets$|^events$|^leases$/,
        );
    }
  });

  it('covers every kind with its status and finalizers', () => {
    for (const k of kinds) {
      for (const v of ['get', 'list', 'watch', 'patch'])
        expect(can(watched, 'ops.pitrix.io', k.plural, v), `${k.plural} ${v}`).toBe(true);
      expect(can(watched, 'ops.pitrix.io', `${k.plural}/status`, 'update')).toBe(true);
      expect(can(watched, 'ops.pitrix.io', `${k.plural}/finalizers`, 'update')).toBe(true);
      for (const v of ['create', 'delete', 'update'])
        expect(can(watched, 'ops.pitrix.io', k.plural, v), `${k.plural} ${v}`).toBe(false);
    }
  });

  it('reads Secrets by name only, creates Events, and touches only its own Lease', () => {
    const secrets = watched.filter((r) => r.resources.includes('secrets'));
    expect(secrets.flatMap((r) => r.verbs)).toEqual(['get']);
    expect(can(watched, '', 'events', 'create')).toBe(true);
    expect(watched.some((r) => r.resources.includes('leases'))).toBe(false);
    const update = operator.find((r) => r.verbs.includes('update'))!;
    expect(update.resourceNames).toEqual([LEADER_LEASE]);
    expect(operator.find((r) => r.verbs.includes('create'))!.resourceNames).toBeUndefined();
  });

  it('renders a ClusterRole for all namespaces and Roles for one', () => {
    const all = renderRbac({ namespace: 'pitrix-system', serviceAccount: 'op', name: 'op' }) as Array<{
      kind: string;
    }>;
    expect(all.map((o) => o.kind)).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
    const one = renderRbac({
      namespace: 'pitrix-system',
      serviceAccount: 'op',
      name: 'op',
      watchNamespace: 'z',
    }) as Array<{
      kind: string;
      metadata: { namespace?: string };
    }>;
    expect(one.map((o) => `${o.kind}/${o.metadata.namespace}`)).toEqual([
      'Role/z',
      'RoleBinding/z',
      'Role/pitrix-system',
      'RoleBinding/pitrix-system',
    ]);
  });
});
