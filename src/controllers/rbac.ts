/**
 * What the operator may do in the cluster, declared beside the controllers that need it: one list
 * of rules per controller (plus the runtime's own), each saying where it applies. The chart's and
 * the plain manifests' ClusterRole/Role are generated from these lists (`renderRbac`,
 * `npm run delivery`), so a controller that starts calling a new API adds a rule here, and the
 * integration test that runs the operator as the chart's ServiceAccount fails until it does.
 *
 * Scopes:
 * - `watched`: the namespaces whose resources the operator acts on (all namespaces through a
 *   ClusterRole, or one namespace through a Role when the operator watches one).
 * - `operator`: the operator's own namespace (its leader-election Lease).
 *
 * No wildcard anywhere: a unit test rejects `*` in groups, resources and verbs.
 */
import { type ControllerRbac, type PolicyRule, type RuleScope, runtimeRbac } from './rbac-rules.js';
import { type RunbookRegistration, rbacOf } from './registration.js';
import { RUNBOOKS } from './registry.js';

export {
  type ControllerRbac,
  type DeclaredRule,
  LEADER_LEASE,
  type PolicyRule,
  type RuleScope,
} from './rbac-rules.js';

/** Every controller's declared needs, derived from the runbook registry. */
export function rbacFor(runbooks: readonly RunbookRegistration[]): ControllerRbac[] {
  return [runtimeRbac(runbooks.map((r) => r.info)), ...runbooks.map(rbacOf)];
}

export const controllerRbac: readonly ControllerRbac[] = rbacFor(RUNBOOKS);

const VERB_ORDER = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];

/**
 * Merges declared rules of one scope into the fewest PolicyRules: one per (group, resource,
 * resourceNames) with the union of verbs; then resources sharing a group, verbs and names are
 * listed together. Deterministic order, so generated files only change when a need changes.
 */
export function aggregateRules(list: readonly ControllerRbac[], scope: RuleScope): PolicyRule[] {
  const byResource = new Map<
    string,
    { group: string; resource: string; names?: string[]; verbs: Set<string> }
  >();
  for (const c of list) {
    for (const r of c.rules) {
      if (r.scope !== scope) continue;
      for (const group of r.apiGroups) {
        for (const resource of r.resources) {
          const names = r.resourceNames ? [...r.resourceNames].sort() : undefined;
          const key = JSON.stringify([group, resource, names ?? null]);
          const e = byResource.get(key) ?? { group, resource, names, verbs: new Set<string>() };
          for (const v of r.verbs) e.verbs.add(v);
          byResource.set(key, e);
        }
      }
    }
  }
  const sortVerbs = (v: Iterable<string>) =>
    [...v].sort((a, b) => VERB_ORDER.indexOf(a) - VERB_ORDER.indexOf(b) || a.localeCompare(b));
  const grouped = new Map<string, PolicyRule>();
  for (const e of byResource.values()) {
    const verbs = sortVerbs(e.verbs);
    const key = JSON.stringify([e.group, verbs, e.names ?? null]);
    const rule = grouped.get(key);
    if (rule) rule.resources.push(e.resource);
    else
      grouped.set(key, {
        apiGroups: [e.group],
        resources: [e.resource],
        verbs,
        ...(e.names ? { resourceNames: e.names } : {}),
      });
  }
  const rules = [...grouped.values()];
  for (const r of rules) r.resources.sort();
  return rules.sort((a, b) =>
    JSON.stringify([a.apiGroups, a.resources, a.resourceNames ?? []]).localeCompare(
      JSON.stringify([b.apiGroups, b.resources, b.resourceNames ?? []]),
    ),
  );
}

export interface RbacOptions {
  /** The operator's namespace (ServiceAccount, Lease). */
  namespace: string;
  serviceAccount: string;
  /** Name prefix of the roles and bindings. */
  name: string;
  /** The one namespace watched, or undefined for all namespaces (ClusterRole). */
  watchNamespace?: string;
  labels?: Record<string, string>;
}

/** ClusterRole (or Role in the watched namespace) + binding, and the Role for the Lease. */
export function renderRbac(opts: RbacOptions, list: readonly ControllerRbac[] = controllerRbac): object[] {
  const meta = (name: string, namespace?: string) => ({
    name,
    ...(namespace ? { namespace } : {}),
    ...(opts.labels ? { labels: opts.labels } : {}),
  });
  const subjects = [{ kind: 'ServiceAccount', name: opts.serviceAccount, namespace: opts.namespace }];
  const watched = aggregateRules(list, 'watched');
  const ns = opts.watchNamespace;
  const roleKind = ns ? 'Role' : 'ClusterRole';
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: roleKind,
      metadata: meta(opts.name, ns),
      rules: watched,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: ns ? 'RoleBinding' : 'ClusterRoleBinding',
      metadata: meta(opts.name, ns),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: opts.name },
      subjects,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(`${opts.name}-leader-election`, opts.namespace),
      rules: aggregateRules(list, 'operator'),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(`${opts.name}-leader-election`, opts.namespace),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${opts.name}-leader-election` },
      subjects,
    },
  ];
}
