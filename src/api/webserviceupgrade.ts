/** WebserviceUpgrade: rebuild webservice VMs on a new OS, one node at a time (runbook R5). */
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
  statusList,
  text,
  timestamp,
  withRules,
  ZoneRef,
} from './common.js';

export const Weekday = z.enum(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']);
export type Weekday = z.infer<typeof Weekday>;

/** Where an HTTP or TCP health check is aimed: the node being rebuilt, or the zone's floating IP. */
export const CheckHost = z.enum(['Node', 'VIP']);
export type CheckHost = z.infer<typeof CheckHost>;

/**
 * A health check is data, not a command: one of a closed set of kinds the operator turns into a
 * fixed firstbox command itself. There is no way to name a program to run (that was root
 * execution on the firstbox for anyone who may edit the resource), and a failing check reports
 * its own verdict (the HTTP status, the program state), never the output of what it ran.
 */
export const HealthCheck = withRules(
  z.object({
    name: d(pattern('K8S_NAME', 63), 'Name of the check, unique in the list.'),
    httpGet: d(
      z
        .object({
          host: d(
            CheckHost.default('Node'),
            'Node (its management address) or VIP (spec.floatingIP or the observed one).',
          ),
          scheme: d(z.enum(['http', 'https']).default('http'), 'http or https.'),
          port: d(int().min(1).max(65535).default(80), 'TCP port.'),
          path: d(pattern('URL_PATH', 256).default('/'), 'Absolute path, no query.'),
          expectedStatus: d(int().min(100).max(599).default(200), 'The HTTP status that means healthy.'),
        })
        .optional(),
      'GET a URL on the node or the VIP from firstbox; healthy when it answers expectedStatus.',
    ),
    supervisorProgram: d(
      z
        .object({ name: d(pattern('SUPERVISOR_PROGRAM', 63), 'Program name as supervisorctl prints it.') })
        .optional(),
      'A supervisor program on the node that must be RUNNING.',
    ),
    tcpPort: d(
      z
        .object({
          host: d(CheckHost.default('Node'), 'Node (its management address) or VIP.'),
          port: d(int().min(1).max(65535), 'TCP port that must accept a connection.'),
        })
        .optional(),
      'A TCP port on the node or the VIP that must accept a connection from firstbox.',
    ),
  }),
  [
    {
      rule: '[has(self.httpGet), has(self.supervisorProgram), has(self.tcpPort)].filter(x, x).size() == 1',
      message:
        'set exactly one of httpGet, supervisorProgram or tcpPort (health checks are data: there is no command kind)',
      check: (h) => [h.httpGet, h.supervisorProgram, h.tcpPort].filter((x) => x !== undefined).length === 1,
    },
  ],
);
export type HealthCheck = z.infer<typeof HealthCheck>;

export const UpgradeWindow = d(
  z.object({
    days: d(listSet(z.array(Weekday).min(1).max(7)), 'Days a node may start its rebuild.'),
    start: d(pattern('HHMM', 5), 'Start of the window, `HH:MM`.'),
    end: d(pattern('HHMM', 5), 'End of the window, `HH:MM`; earlier than start means it ends the next day.'),
    timezone: d(pattern('TIMEZONE', 64).default('UTC'), 'IANA time zone of start and end.'),
  }),
  'Maintenance window: a node rebuild starts only inside it; a running one is always finished.',
);
export type UpgradeWindow = z.infer<typeof UpgradeWindow>;

export const WebserviceUpgradeSpec = d(
  z.object({
    zoneRef: withRules(ZoneRef, [immutable('zoneRef')]),
    nodes: d(
      listSet(z.array(pattern('NODE_ID', 63)).max(32)).optional(),
      'Webservice nodes to rebuild, in order. Default: all webservice nodes, the VIP holder last.',
    ),
    target: d(
      z.object({
        osName: d(
          withRules(pattern('NODE_ID', 32), [
            {
              rule: "!(self in ['ubuntu', 'debian', 'centos', 'kylin', 'rhel', 'redhat'])",
              message:
                'osName is the release code name the installer settings take (os_name="xenial" in runbook R5), like bionic, not the distribution',
              check: (v) => !['ubuntu', 'debian', 'centos', 'kylin', 'rhel', 'redhat'].includes(v),
            },
          ]),
          'Target os_name as the node settings file takes it: the release code name (`xenial`, `bionic`; runbook R5 writes `os_name="xenial"`).',
        ),
        osVersion: d(
          pattern('OS_VERSION', 16),
          'Target os_version as the settings file takes it (`16.04.5` in runbook R5, `18.04`).',
        ),
        baseImage: d(
          pattern('FIRSTBOX_PATH', 255).optional(),
          'Path on firstbox of the new OS base image prepared in advance (runbook R5: "on firstbox, prepare in advance the base image of the new OS"; ' +
            'the runbook does not say where, so it is named here). Checked to exist before the first node goes down; without it the rollout does not start.',
        ),
        repository: d(
          pattern('FIRSTBOX_PATH', 255).optional(),
          'Directory on firstbox of the software repository of the new OS prepared in advance (runbook R5). Checked to exist and be non-empty before the first node goes down; without it the rollout does not start.',
        ),
      }),
      'The OS the nodes are rebuilt on.',
    ),
    floatingIP: d(
      pattern('IPV4', 15).optional(),
      'webservice_floating_ip to assign when the nodes have none (keepalived is set up per node).',
    ),
    temporaryAddresses: d(
      listSet(z.array(pattern('IPV4', 15)).max(32)).optional(),
      'Unused management IPs lent to a node while it is rebuilt (runbook R5 step 1).',
    ),
    maxUnavailable: d(
      withRules(int().default(1), [
        {
          rule: 'self == 1',
          message: 'maxUnavailable must be 1: runbook R5 rebuilds webservice nodes one at a time',
          check: (v) => v === 1,
        },
      ]),
      'Nodes rebuilt at once. Only 1 is valid: runbook R5 replaces one node at a time and verifies it first.',
    ),
    minReadySeconds: d(
      int().min(0).max(3600).default(30),
      'Seconds a rebuilt node must stay healthy before the next node starts.',
    ),
    healthChecks: d(
      listMap(z.array(HealthCheck).max(16), ['name']).optional(),
      'Extra checks after each node (httpGet, supervisorProgram or tcpPort), besides `supervisorctl status` all RUNNING, the console or node API and the API through the VIP.',
    ),
    window: UpgradeWindow.optional(),
    approval: Approval,
    paused: Paused,
  }),
  'Desired rebuild.',
);
export type WebserviceUpgradeSpec = z.infer<typeof WebserviceUpgradeSpec>;

export const UpgradePhase = z.enum(['Pending', 'WaitingForWindow', 'Progressing', 'Succeeded', 'Failed']);
export type UpgradePhase = z.infer<typeof UpgradePhase>;

export const UpgradeNodePhase = z.enum([
  'Pending',
  'Preparing',
  'Rebuilding',
  'Deploying',
  'Verifying',
  'Succeeded',
  'Failed',
  'RolledBack',
]);
export type UpgradeNodePhase = z.infer<typeof UpgradeNodePhase>;

export const UpgradeNodeStatus = z.object({
  name: d(text(63), 'Node id.'),
  address: d(text(64).optional(), 'Management address of the node (from the installer node list).'),
  phase: d(UpgradeNodePhase, 'Where the node is in its rebuild.'),
  holdsVip: d(
    z.boolean().optional(),
    'The node held the floating IP when the upgrade planned it (rebuilt last).',
  ),
  startedAt: d(timestamp().optional(), 'When its rebuild started.'),
  finishedAt: d(timestamp().optional(), 'When its rebuild finished.'),
  oldHostKey: d(text(64).optional(), 'SHA256 fingerprint before the rebuild.'),
  newHostKey: d(
    text(64).optional(),
    'SHA256 fingerprint after the rebuild (stale keys are removed, R5 step 7).',
  ),
  rollbackAvailable: d(z.boolean().optional(), 'old-<node>.img still exists on the physical host.'),
  message: d(text(1024).optional(), 'Why the node is where it is (a failed check, a rollback).'),
});
export type UpgradeNodeStatus = z.infer<typeof UpgradeNodeStatus>;

export const WebserviceUpgradeStatus = d(
  z.object({
    observedGeneration: ObservedGeneration,
    conditions: Conditions,
    phase: d(UpgradePhase.optional(), 'Pending, WaitingForWindow, Progressing, Succeeded or Failed.'),
    progress: d(text(16).optional(), 'Rebuilt nodes over all nodes (`1/2`).'),
    currentNode: d(text(63).optional(), 'Node being rebuilt now.'),
    currentStep: CurrentStep,
    startedAt: d(
      timestamp().optional(),
      'When the rollout was first planned; its UTC date names the settings backup (`settings.YYYYMMDD`).',
    ),
    nodes: d(statusList(z.array(UpgradeNodeStatus).max(32), ['name']).optional(), 'Per node progress.'),
    plan: Plan.optional(),
  }),
  'Observed state of the rebuild.',
);
export type WebserviceUpgradeStatus = z.infer<typeof WebserviceUpgradeStatus>;

export const WebserviceUpgradeSchema = d(
  resource('WebserviceUpgrade', WebserviceUpgradeSpec, WebserviceUpgradeStatus),
  'Rebuild the webservice VMs of a zone on a new OS, one node at a time, the VIP holder last.',
);
export type WebserviceUpgrade = z.infer<typeof WebserviceUpgradeSchema>;
export type WebserviceUpgradeInput = z.input<typeof WebserviceUpgradeSchema>;

export const parseWebserviceUpgrade = parser('WebserviceUpgrade', WebserviceUpgradeSchema);
