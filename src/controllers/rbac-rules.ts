/**
 * The building blocks of the operator's RBAC: what the runtime needs, what every acting kind needs
 * on its own resource, and the shared needs (Secrets, the zone lock) a registration names. Kept
 * apart from rbac.ts so a runbook registration can name its rules without importing the registry.
 */
import { GROUP } from '../api/common.js';
import type { KindInfo } from '../api/kinds.js';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export type RuleScope = 'watched' | 'operator';

export interface DeclaredRule extends PolicyRule {
  scope: RuleScope;
  /** Why the rule exists (the call that needs it). */
  why: string;
}

export interface ControllerRbac {
  controller: string;
  rules: DeclaredRule[];
}

/** The leader-election Lease name (`run --leader-election-id`'s default; the chart keeps it). */
export const LEADER_LEASE = 'pitrix-operator-leader';

const plural = (k: Pick<KindInfo, 'plural'>) => k.plural;

/** An acting kind: its informer, its finalizer and annotations, its status journal. */
export function actingKindRules(k: Pick<KindInfo, 'plural'>): DeclaredRule[] {
  return [
    {
      scope: 'watched',
      apiGroups: [GROUP],
      resources: [plural(k)],
      verbs: ['get', 'list', 'watch', 'patch'],
      why: 'informer list/watch, fresh get on status conflict, finalizer merge patch',
    },
    {
      scope: 'watched',
      apiGroups: [GROUP],
      resources: [`${plural(k)}/status`],
      verbs: ['get', 'update', 'patch'],
      why: 'status journal (PUT with resourceVersion, merge patch)',
    },
    {
      scope: 'watched',
      apiGroups: [GROUP],
      resources: [`${plural(k)}/finalizers`],
      verbs: ['update'],
      why: 'setting finalizers where OwnerReferencesPermissionEnforcement is enabled',
    },
  ];
}

/** Reading the zone's SSH credentials, known_hosts and node credentials: get only, never list. */
export const readSecrets: DeclaredRule = {
  scope: 'watched',
  apiGroups: [''],
  resources: ['secrets'],
  verbs: ['get'],
  why: 'Platform.secret: credentialsSecretRef, knownHostsSecretRef, nodeCredentialsSecretRef',
};

/** The zone lock lives in Zone status (R4: scale-out and upgrades exclusive). */
export const zoneLockRule: DeclaredRule = {
  scope: 'watched',
  apiGroups: [GROUP],
  resources: ['zones/status'],
  verbs: ['get', 'update'],
  why: 'acquire/release the zone lock in Zone status',
};

/** The runtime: caches of every registered kind, Events, the leader Lease. */
export function runtimeRbac(kinds: readonly Pick<KindInfo, 'plural'>[]): ControllerRbac {
  return {
    controller: 'runtime',
    rules: [
      {
        scope: 'watched',
        apiGroups: [GROUP],
        resources: kinds.map(plural),
        verbs: ['list', 'watch'],
        why: 'shared informers of the registered kinds',
      },
      {
        scope: 'watched',
        apiGroups: [''],
        resources: ['events'],
        verbs: ['create', 'patch'],
        why: 'KubeEventRecorder: create, then fold repeats by patching count',
      },
      {
        scope: 'operator',
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['create'],
        why: 'leader election: create the Lease the first time (create cannot be limited by name)',
      },
      {
        scope: 'operator',
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'update'],
        resourceNames: [LEADER_LEASE],
        why: 'leader election: read, renew and release the Lease',
      },
    ],
  };
}
