/** Zone: one QingCloud zone, reached through its control host (firstbox). */
import { z } from 'zod';
import {
  Conditions,
  d,
  immutable,
  int,
  listSet,
  ObservedGeneration,
  Paused,
  parser,
  pattern,
  resource,
  SecretRef,
  secretKeyRef,
  text,
  timestamp,
  withRules,
} from './common.js';

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

export const ZoneSpec = d(
  z.object({
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
  }),
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
    lock: ZoneLock.optional(),
    lastObservedAt: d(timestamp().optional(), 'When facts were last collected.'),
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
