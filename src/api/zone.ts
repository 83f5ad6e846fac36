/** Zone: one QingCloud zone, reached through its control host (firstbox). */
import { z } from 'zod';
import {
  Approval,
  Conditions,
  CurrentStep,
  d,
  immutable,
  int,
  listMap,
  listSet,
  ObservedGeneration,
  Paused,
  Plan,
  parser,
  pattern,
  resource,
  SecretRef,
  secretKeyRef,
  text,
  timestamp,
  withRules,
  ZoneRef,
} from './common.js';
import { NodeEips, Vbc } from './nodepool.js';

export const ZoneMode = z.enum(['standard', 'fusion', 'devops']);
export type ZoneMode = z.infer<typeof ZoneMode>;

export const HostKeyPolicy = z.enum(['Pinned', 'TrustOnFirstUse']);
export type HostKeyPolicy = z.infer<typeof HostKeyPolicy>;

const FirstboxBase = z.object({
  host: d(
    pattern('HOST', 253),
    'Address (IPv4 or DNS name) of firstbox, the control host every runbook runs on.',
  ),
  port: d(int().min(1).max(65535).default(22), 'SSH port of firstbox.'),
  user: d(pattern('UNIX_USER', 32).default('root'), 'SSH user on firstbox.'),
  credentialsSecretRef: d(
    SecretRef,
    'Secret with the SSH credentials for firstbox: key `ssh-privatekey` (preferred) or `password`, ' +
      'and `passphrase` when the private key is encrypted.',
  ),
  hostKeys: d(
    listSet(z.array(pattern('SHA256_FINGERPRINT', 51)).max(16)).optional(),
    'Accepted SHA256 fingerprints of the firstbox host key, as printed by `ssh-keygen -lf`.',
  ),
  knownHostsSecretRef: d(
    secretKeyRef('known_hosts').optional(),
    'Secret holding an OpenSSH known_hosts file with the firstbox host key.',
  ),
  hostKeyPolicy: d(
    HostKeyPolicy.default('Pinned'),
    'Pinned (default) connects only when the host key matches hostKeys or knownHostsSecretRef. ' +
      'TrustOnFirstUse accepts the first key seen, records it in status.firstboxHostKey and pins it; ' +
      'an explicit opt-in because it trusts whatever answers first.',
  ),
});

export const Firstbox = d(
  withRules(FirstboxBase, [
    {
      rule:
        "(has(self.hostKeyPolicy) && self.hostKeyPolicy == 'TrustOnFirstUse') || " +
        '(has(self.hostKeys) && size(self.hostKeys) > 0) || has(self.knownHostsSecretRef)',
      message:
        'a host key is required: set hostKeys or knownHostsSecretRef, or opt in to hostKeyPolicy: TrustOnFirstUse',
      fieldPath: '.hostKeys',
      reason: 'FieldValueRequired',
      check: (f) =>
        f.hostKeyPolicy === 'TrustOnFirstUse' || (f.hostKeys?.length ?? 0) > 0 || !!f.knownHostsSecretRef,
    },
  ]),
  'How to reach firstbox over SSH and how to trust its host key.',
);
export type Firstbox = z.infer<typeof Firstbox>;

/** Roles a machine of a new zone can carry in `settings.ZONE_ID.yaml` (R4 new zone in a region). */
export const NewZoneRole = z.enum([
  'webservice',
  'proxy',
  'zoocassa',
  'pgserver',
  'pgpool',
  'hyper',
  'vg',
  'seed',
  'vbr',
  'snapshot',
]);
export type NewZoneRole = z.infer<typeof NewZoneRole>;

/** The `cloud_type` values known to be safe in `variables.ZONE_ID.yaml` of a new zone. */
export const CLOUD_TYPES = ['private'] as const;
export type CloudType = (typeof CLOUD_TYPES)[number];

/**
 * `cloud_type` in `variables.ZONE_ID.yaml`. `public` is reserved for QingCloud's public cloud and
 * must never be written (seed 003). A string with CEL rules rather than an OpenAPI enum: an enum
 * failure stops the API server before the rule that explains why `public` is refused.
 */
export const CloudTypeField = withRules(text(32), [
  {
    rule: "self != 'public'",
    message:
      'cloudType must never be public: that value is reserved for the public cloud (runbook R4, new zone in a region)',
    reason: 'FieldValueForbidden',
    check: (v) => v !== 'public',
  },
  {
    rule: `self == 'public' || self in [${CLOUD_TYPES.map((t) => `'${t}'`).join(', ')}]`,
    message: `cloudType must be one of: ${CLOUD_TYPES.join(', ')}`,
    reason: 'FieldValueInvalid',
    check: (v) => v === 'public' || (CLOUD_TYPES as readonly string[]).includes(v),
  },
]);

export const NewZoneNode = z.object({
  address: d(
    pattern('HOST', 253),
    'Management address of the machine (IPv4 or DNS name). Unique in the list.',
  ),
  roles: d(
    listSet(z.array(NewZoneRole).min(1).max(10)),
    'Roles the machine carries in the new zone (settings.ZONE_ID.yaml).',
  ),
  virtual: d(
    z.boolean().optional(),
    'true: the machine is a management VM (absent or false: a physical machine): pgpool, pgserver and zoocassa are all on one kind, never mixed (runbook R4).',
  ),
  eips: d(
    NodeEips.optional(),
    'EIP ranges this vg machine serves (`eips` keyed by its address in settings.ZONE_ID.yaml, runbook R4); ' +
      'required when the machine has role vg, not allowed otherwise.',
  ),
});
export type NewZoneNode = z.infer<typeof NewZoneNode>;

const NewZoneBase = z.object({
  globalZoneRef: d(
    ZoneRef,
    "The region's global Zone (same namespace): its webservice nodes get the memcache clear and the " +
      'ws_server/billing_resource restart, and the new proxies forward to them.',
  ),
  nodes: d(
    listMap(z.array(NewZoneNode).min(1).max(128), ['address']),
    'Every machine of the new zone with its roles; written to the node list and to settings.ZONE_ID.yaml.',
  ),
  cloudType: d(
    CloudTypeField.default('private'),
    '`cloud_type` in variables.ZONE_ID.yaml. Never `public`: that value is reserved for the public cloud (runbook R4).',
  ),
  vbc: Vbc.optional(),
  vlan: d(
    z.boolean().default(false),
    'VLAN mode: "VLAN mode does not need VBC specified; please set installer_allocate_vbc to 0" (runbook R4). ' +
      'installer_allocate_vbc is 0 with vlan or vbc, 1 (the installer allocates VBC) otherwise.',
  ),
  globalApiProtocol: d(
    z.enum(['https', 'http']),
    'How the global webservices serve the API: https (api-front forwards to port 443) or http (port 7777).',
  ),
  approval: Approval,
});

export const NewZone = d(
  withRules(NewZoneBase, [
    {
      rule: '!has(self.vlan) || !self.vlan || !has(self.vbc)',
      message: 'vlan and vbc exclude each other: VLAN mode does not need VBC specified (runbook R4)',
      fieldPath: '.vbc',
      reason: 'FieldValueForbidden',
      check: (n) => !n.vlan || !n.vbc,
    },
    {
      rule:
        "self.nodes.filter(n, 'pgpool' in n.roles).all(n, has(n.virtual) && n.virtual) || " +
        "self.nodes.filter(n, 'pgpool' in n.roles).all(n, !has(n.virtual) || !n.virtual)",
      message:
        'pgpool machines must all be physical or all virtual, never mixed: their OS versions differ (runbook R4)',
      fieldPath: '.nodes',
      reason: 'FieldValueInvalid',
      check: (n) =>
        new Set(n.nodes.filter((x) => x.roles.includes('pgpool')).map((x) => !!x.virtual)).size <= 1,
    },
    {
      rule:
        "self.nodes.filter(n, 'pgserver' in n.roles).all(n, has(n.virtual) && n.virtual) || " +
        "self.nodes.filter(n, 'pgserver' in n.roles).all(n, !has(n.virtual) || !n.virtual)",
      message:
        'pgserver machines must all be physical or all virtual, never mixed: their OS versions differ (runbook R4)',
      fieldPath: '.nodes',
      reason: 'FieldValueInvalid',
      check: (n) =>
        new Set(n.nodes.filter((x) => x.roles.includes('pgserver')).map((x) => !!x.virtual)).size <= 1,
    },
    {
      rule:
        "self.nodes.filter(n, 'zoocassa' in n.roles).all(n, has(n.virtual) && n.virtual) || " +
        "self.nodes.filter(n, 'zoocassa' in n.roles).all(n, !has(n.virtual) || !n.virtual)",
      message:
        'zoocassa machines must all be physical or all virtual, never mixed: their OS versions differ (runbook R4)',
      fieldPath: '.nodes',
      reason: 'FieldValueInvalid',
      check: (n) =>
        new Set(n.nodes.filter((x) => x.roles.includes('zoocassa')).map((x) => !!x.virtual)).size <= 1,
    },
    {
      rule: "self.nodes.exists(n, 'proxy' in n.roles)",
      message:
        'a new zone needs at least one proxy machine: its haproxy forwards to the global webservices (runbook R4)',
      fieldPath: '.nodes',
      reason: 'FieldValueRequired',
      check: (n) => n.nodes.some((x) => x.roles.includes('proxy')),
    },
    {
      rule: "self.nodes.all(n, !('vg' in n.roles) || (has(n.eips) && size(n.eips) > 0))",
      message: 'eips is required on every vg machine: each VG node serves its own EIP ranges (runbook R4)',
      fieldPath: '.nodes',
      reason: 'FieldValueRequired',
      check: (n) => n.nodes.every((x) => !x.roles.includes('vg') || (x.eips?.length ?? 0) > 0),
    },
    {
      rule: "self.nodes.all(n, 'vg' in n.roles || !has(n.eips) || size(n.eips) == 0)",
      message: 'nodes[].eips only applies to a machine with role vg',
      fieldPath: '.nodes',
      reason: 'FieldValueForbidden',
      check: (n) => n.nodes.every((x) => x.roles.includes('vg') || (x.eips?.length ?? 0) === 0),
    },
  ]),
  'Add this zone to its region (runbook R4, new zone in a region) when the installer does not list it yet. ' +
    'Only for a non-global zone with regionId.',
);
export type NewZone = z.infer<typeof NewZone>;

const ZoneSpecBase = z.object({
  zoneId: d(
    withRules(pattern('ZONE_ID', 32), [immutable('zoneId')]),
    'Zone id as the installer knows it (`pek3a`); names config files such as server.yaml.<zoneId>. Immutable.',
  ),
  regionId: d(pattern('ZONE_ID', 32).optional(), 'Region id the zone belongs to, for region deployments.'),
  global: d(
    z.boolean().default(false),
    'This is the global zone (hosts the global webservice and, with TagServer, the tag service).',
  ),
  mode: d(
    ZoneMode.default('standard'),
    'Deployment mode. standard adds Hyper nodes in pairs (runbook R4); fusion and devops refresh the ' +
      'hyper mirror after a Hyper scale-out.',
  ),
  firstbox: Firstbox,
  proxyHost: d(
    pattern('HOST', 253).optional(),
    "Host name of this zone's proxy VIP (`<zoneId>-proxy` by default).",
  ),
  refreshInterval: d(
    pattern('DURATION', 32).default('5m'),
    'How often facts are collected again when nothing else triggers a reconcile (`30s`, `5m`, `1h`).',
  ),
  paused: Paused,
  newZone: NewZone.optional(),
});

export const ZoneSpec = d(
  withRules(ZoneSpecBase, [
    {
      rule: '!has(self.newZone) || !self.global',
      message: 'newZone is for a sub zone: a global zone is never added to a region by this runbook (R4)',
      fieldPath: '.newZone',
      reason: 'FieldValueForbidden',
      check: (s) => !s.newZone || !s.global,
    },
    {
      rule:
        "!has(self.newZone) || !has(self.mode) || self.mode != 'fusion' || self.newZone.nodes.all(n, " +
        "!('hyper' in n.roles) || n.roles.all(r, r in ['hyper', 'seed', 'vbr', 'snapshot']))",
      message:
        'in fusion mode only seed, vbr and snapshot may be placed on a hyper machine; other roles go to ks0/ks1/ks2 (runbook R4)',
      fieldPath: '.newZone.nodes',
      reason: 'FieldValueForbidden',
      check: (s) =>
        !s.newZone ||
        s.mode !== 'fusion' ||
        s.newZone.nodes.every(
          (n) =>
            !n.roles.includes('hyper') ||
            n.roles.every((r) => ['hyper', 'seed', 'vbr', 'snapshot'].includes(r)),
        ),
    },
    {
      rule: '!has(self.newZone) || has(self.regionId)',
      message: 'regionId is required with newZone: the zone is added to that region (runbook R4)',
      fieldPath: '.regionId',
      reason: 'FieldValueRequired',
      check: (s) => !s.newZone || !!s.regionId,
    },
  ]),
  'Desired state of the zone.',
);
export type ZoneSpec = z.infer<typeof ZoneSpec>;

export const ZoneLock = d(
  z.object({
    holder: d(
      z.object({
        kind: d(text(63), 'Kind of the object holding the lock.'),
        name: d(text(253), 'Name of the object holding the lock.'),
        uid: d(text(64).optional(), 'UID of the object holding the lock.'),
      }),
      'The object whose operation holds the zone.',
    ),
    operation: d(text(63), 'The operation: ScaleOut, Upgrade, Deploy, Migrate, ...'),
    acquiredAt: d(timestamp().optional(), 'When the lock was taken.'),
    renewedAt: d(
      timestamp().optional(),
      'When the holder last confirmed it, before running its plan: a contender that read the Zone earlier cannot take it.',
    ),
  }),
  'The operation currently holding the zone: scale-out and upgrade/maintenance are mutually exclusive (runbook R4).',
);
export type ZoneLock = z.infer<typeof ZoneLock>;

export const ZoneStatus = d(
  z.object({
    observedGeneration: ObservedGeneration,
    conditions: Conditions,
    installerVersion: d(text(64).optional(), 'Installer version found on firstbox (`4.6.2`).'),
    nodeCounts: d(
      z.record(text(63), int().min(0)).meta({ maxProperties: 64 }).optional(),
      'Number of nodes per role as the installer lists them.',
    ),
    reachable: d(z.boolean().optional(), 'Firstbox answered over SSH at the last observation.'),
    firstboxHostKey: d(text(64).optional(), 'SHA256 fingerprint of the host key firstbox presented.'),
    firstboxAccess: d(
      z
        .object({
          host: d(text(253), 'spec.firstbox.host.'),
          port: d(int().min(1).max(65535), 'spec.firstbox.port.'),
          hostKeyPolicy: d(text(32), 'spec.firstbox.hostKeyPolicy.'),
          hostKeys: d(z.array(text(64)).max(16), 'spec.firstbox.hostKeys, sorted.'),
          credentialsSecret: d(text(253), 'spec.firstbox.credentialsSecretRef.name.'),
          knownHostsSecret: d(text(253).optional(), 'spec.firstbox.knownHostsSecretRef.name.'),
        })
        .optional(),
      'The firstbox access (where the credentials go) the operator last connected with; a change is reported as an Event.',
    ),
    lock: ZoneLock.optional(),
    plan: Plan.optional(),
    currentStep: CurrentStep,
    lastObservedAt: d(
      timestamp().optional(),
      'Since when the firstbox has shown what status says (installer version, node counts, reachability); an observation that finds the same keeps it.',
    ),
  }),
  'Observed state of the zone.',
);
export type ZoneStatus = z.infer<typeof ZoneStatus>;

export const ZoneSchema = d(
  resource('Zone', ZoneSpec, ZoneStatus),
  'A QingCloud zone managed through its firstbox control host.',
);
export type Zone = z.infer<typeof ZoneSchema>;
/** Zone as written in a manifest (defaults not yet applied). */
export type ZoneInput = z.input<typeof ZoneSchema>;

export const parseZone = parser('Zone', ZoneSchema);
