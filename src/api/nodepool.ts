/** NodePool: nodes of one role added to a zone by the scale-out runbook (R4). */
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
  statusList,
  text,
  timestamp,
  withRules,
  ZoneRef,
} from './common.js';

export const NodeRole = z.enum(['hyper', 'vg', 'seed', 'vbr', 'snapshot']);
export type NodeRole = z.infer<typeof NodeRole>;

export const DiskType = z.enum(['ssd', 'sata', 'nvme']);
export type DiskType = z.infer<typeof DiskType>;

export const DiskOverride = z.object({
  device: d(pattern('DEVICE', 32), 'Block device name without /dev/ (`sdb`, `nvme0n1`).'),
  type: d(DiskType.optional(), 'Disk type to record, e.g. ssd for a RAID SSD collected as sata.'),
  sizeGiB: d(int().min(1).max(1048576).optional(), 'Size to record when collection got it wrong.'),
  enabled: d(
    z.boolean().optional(),
    'false excludes the device, e.g. a removable disk collected by mistake (modify-node-attributes -s 0).',
  ),
});
export type DiskOverride = z.infer<typeof DiskOverride>;

/**
 * `eips` of one VG node (003 §2.2: "with the management address of the VG node as the key; several
 * EIP network ranges may be specified"): the ranges this VG serves, and only this one.
 */
export const NodeEips = listSet(z.array(pattern('IPV4_RANGE', 31)).max(64));

export const PoolNode = z.object({
  address: d(pattern('HOST', 253), 'Management address of the node (IPv4 or DNS name). Unique in the pool.'),
  eips: d(
    NodeEips.optional(),
    'EIP ranges (`a.b.c.d-e.f.g.h` or CIDR) this VG node serves: `eips` keyed by its address in the ' +
      'scale settings (runbook R4). Required on every node of a vg pool, not allowed otherwise.',
  ),
  diskOverrides: d(
    listMap(z.array(DiskOverride).max(64), ['device']).optional(),
    'Corrections to collected disk facts, applied before deployment (runbook R4 step 3).',
  ),
});
export type PoolNode = z.infer<typeof PoolNode>;

/**
 * Manual VBC (003 §2.2/§3.2): `ipv4_vip` carries two things, the VBC's external-facing management
 * address and its Master node, and "the Master node must be any one of those in mgmt_ips". The
 * address itself need not be a hyper address. Written as `ipv4_vip: 'VIP|MASTER'` (an ASSUMPTION,
 * see docs/platform-interface.md).
 */
export const Vbc = d(
  withRules(
    z.object({
      mgmtIps: d(
        listSet(z.array(pattern('IPV4', 15)).min(1).max(16)),
        'mgmt_ips: management addresses of the Hyper nodes that carry this VBC; master must be one of them.',
      ),
      ipv4Vbc: d(pattern('IPV4_CIDR', 18), 'ipv4_vbc: network segment of the carried IPv4 VBC (CIDR).'),
      ipv4Vip: d(
        pattern('IPV4', 15),
        "ipv4_vip, first part: the VBC's external-facing management address (need not be a hyper address).",
      ),
      master: d(
        pattern('IPV4', 15),
        'ipv4_vip, second part: the Master node of the VBC, one of mgmtIps (runbook R4).',
      ),
    }),
    [
      {
        rule: 'self.master in self.mgmtIps',
        message:
          'vbc.master must be one of vbc.mgmtIps: the VBC Master node is one of its hyper nodes (runbook R4)',
        fieldPath: '.master',
        reason: 'FieldValueInvalid',
        check: (v) => v.mgmtIps.includes(v.master),
      },
    ],
  ),
  'Manual VBC settings (`vbc` in the settings file, runbook R4); omit to let the installer allocate.',
);
export type Vbc = z.infer<typeof Vbc>;

/** `ipv4_vip` as the settings file takes it: the address and the Master node, `VIP|MASTER`. */
export const ipv4VipValue = (v: Vbc) => `${v.ipv4Vip}|${v.master}`;

/**
 * The QEMU section of R4 ("Maintaining the QingCloud platform"): the runbook names neither the
 * QEMU incremental package nor where it installs, so the operator runs the section only with these.
 */
export const QemuIncremental = d(
  z.object({
    version: d(
      pattern('OS_VERSION', 32),
      'QEMU version of the new nodes (as `kvm --version` prints it): the key added to compute_server.emulator.',
    ),
    package: d(
      pattern('PACKAGE', 100),
      'The QEMU incremental package of that version, installed on the old hyper nodes with update.sh (an ASSUMPTION: the runbook does not name it).',
    ),
    bin: d(
      pattern('FIRSTBOX_PATH', 253),
      'compute_server.emulator.VERSION.bin: where that package puts the emulator (the runbook example: `/opt/qemu-2.11.1.1/usr/bin`).',
    ),
  }),
  'When the new hyper nodes run a QEMU version compute_server.emulator does not list: the package and path ' +
    'the runbook leaves to the operator. Without it the pool stops with QemuIncrementalUnspecified.',
);
export type QemuIncremental = z.infer<typeof QemuIncremental>;

export const EraseDataDisks = d(
  z.object({
    devices: d(
      listSet(z.array(pattern('DEVICE', 32)).min(1).max(32)),
      'Devices to wipe on every node of the pool before collection.',
    ),
    confirm: d(text(253), 'Must equal metadata.name: a deliberate second key for a destructive action.'),
  }),
  'DESTRUCTIVE: wipe data disks that fail collection (erase_data_disks.sh). Applied before deployment only.',
);

const NodePoolSpecBase = z.object({
  zoneRef: withRules(ZoneRef, [immutable('zoneRef')]),
  role: d(
    withRules(NodeRole, [immutable('role')]),
    'Role of every node in the pool: hyper, vg, or a KS sub-role seed, vbr, snapshot. Immutable.',
  ),
  nodes: d(
    listMap(z.array(PoolNode).min(1).max(256), ['address']),
    'Nodes of the pool. In standard mode Hyper nodes are added in pairs (runbook R4).',
  ),
  nodeCredentialsSecretRef: d(
    SecretRef.optional(),
    'Secret with non-default node credentials (`username`, `password`) used to establish key access ' +
      '(establish_ssh.sh); omit when nodes use the installer default.',
  ),
  sshPort: d(int().min(1).max(65535).default(22), 'SSH port of the nodes.'),
  vbc: Vbc.optional(),
  qemuIncremental: QemuIncremental.optional(),
  eraseDataDisks: EraseDataDisks.optional(),
  approval: Approval,
  paused: Paused,
});

export const NodePoolSpec = d(
  withRules(NodePoolSpecBase, [
    {
      rule: "self.role != 'vg' || self.nodes.all(n, has(n.eips) && size(n.eips) > 0)",
      message:
        'eips is required on every node of a vg pool: each VG node serves its own EIP ranges (runbook R4)',
      fieldPath: '.nodes',
      reason: 'FieldValueRequired',
      check: (s) => s.role !== 'vg' || s.nodes.every((n) => (n.eips?.length ?? 0) > 0),
    },
    {
      rule: "self.role == 'vg' || self.nodes.all(n, !has(n.eips) || size(n.eips) == 0)",
      message: 'nodes[].eips only applies to role vg',
      fieldPath: '.nodes',
      reason: 'FieldValueForbidden',
      check: (s) => s.role === 'vg' || s.nodes.every((n) => (n.eips?.length ?? 0) === 0),
    },
  ]),
  'Desired nodes of the pool.',
);
export type NodePoolSpec = z.infer<typeof NodePoolSpec>;

export const NodePhase = z.enum([
  'Pending',
  'Unreachable',
  'Collected',
  'Deploying',
  'Deployed',
  'Failed',
  'Rejected',
]);
export type NodePhase = z.infer<typeof NodePhase>;

export const DiskFact = z.object({
  name: d(text(64), 'Device name.'),
  type: d(text(16).optional(), 'ssd, sata or nvme as collected.'),
  sizeBytes: d(int().min(0).optional(), 'Size in bytes.'),
  rotational: d(z.boolean().optional(), 'Spinning disk.'),
  removable: d(z.boolean().optional(), 'Removable device (USB stick, virtual media).'),
  transport: d(text(32).optional(), 'Transport: sata, nvme, usb, ...'),
  model: d(text(128).optional(), 'Model string.'),
});
export type DiskFact = z.infer<typeof DiskFact>;

export const NodeFacts = d(
  z.object({
    cpuCores: d(int().min(0).optional(), 'CPU cores.'),
    arch: d(text(32).optional(), 'CPU architecture (`x86_64`, `aarch64`).'),
    memoryMiB: d(int().min(0).optional(), 'Memory in MiB.'),
    osName: d(text(64).optional(), 'OS name (`Ubuntu`).'),
    osVersion: d(text(64).optional(), 'OS version (`18.04`).'),
    kernel: d(text(128).optional(), 'Kernel release.'),
    disks: d(z.array(DiskFact).max(64).optional(), 'Block devices.'),
    nics: d(
      z
        .array(
          z.object({
            name: d(text(64), 'Interface name.'),
            addresses: d(z.array(text(64)).max(32).optional(), 'Addresses in CIDR form.'),
          }),
        )
        .max(64)
        .optional(),
      'Network interfaces.',
    ),
    qemuVersion: d(
      text(64).optional(),
      'QEMU version; a new one must be added to compute_server.emulator (R4).',
    ),
    packages: d(
      z.record(text(128), text(128)).meta({ maxProperties: 2048 }).optional(),
      'Installed package versions by package name.',
    ),
    services: d(
      z
        .array(
          z.object({
            name: d(text(128), 'Supervisor program.'),
            state: d(text(32), 'RUNNING, STOPPED, ...'),
          }),
        )
        .max(256)
        .optional(),
      'Supervisor services and their state.',
    ),
  }),
  'Facts collected from the node.',
);
export type NodeFacts = z.infer<typeof NodeFacts>;

export const NodeStatus = z.object({
  address: d(text(253), 'Address from spec.nodes.'),
  nodeId: d(text(63).optional(), 'Node id the installer assigned (`hyper3`).'),
  phase: d(NodePhase, 'Pending, Unreachable, Collected, Deploying, Deployed, Failed or Rejected.'),
  message: d(text(2048).optional(), 'Why the node is in this phase.'),
  facts: NodeFacts.optional(),
  collectedAt: d(timestamp().optional(), 'When facts were collected.'),
  hostKey: d(
    text(64).optional(),
    'SHA256 fingerprint of the node host key, learned through the trusted firstbox and pinned from then on.',
  ),
});
export type NodeStatus = z.infer<typeof NodeStatus>;

export const NodePoolStatus = d(
  z.object({
    observedGeneration: ObservedGeneration,
    conditions: Conditions,
    nodes: d(statusList(z.array(NodeStatus).max(256), ['address']).optional(), 'Per node phase and facts.'),
    nodesReady: d(text(16).optional(), 'Deployed nodes over desired nodes (`1/2`).'),
    vbcRoutes: d(
      z
        .array(z.object({ destination: d(text(64), 'Destination CIDR.'), gateway: d(text(64), 'Next hop.') }))
        .max(256)
        .optional(),
      'Static return routes the network team must add on the management gateway (runbook R4 step 11).',
    ),
    deploying: d(
      z.array(text(253)).max(256).optional(),
      'Addresses the plan in flight deploys: kept until that plan ends, so observing them deployed mid-plan never drops its remaining steps.',
    ),
    plan: Plan.optional(),
    currentStep: CurrentStep,
  }),
  'Observed state of the pool.',
);
export type NodePoolStatus = z.infer<typeof NodePoolStatus>;

export const NodePoolSchema = d(
  withRules(resource('NodePool', NodePoolSpec, NodePoolStatus), [
    {
      rule: '!has(self.spec.eraseDataDisks) || self.spec.eraseDataDisks.confirm == self.metadata.name',
      message: 'eraseDataDisks.confirm must equal the NodePool name (metadata.name) to wipe disks',
      fieldPath: '.spec.eraseDataDisks.confirm',
      check: (o) => !o.spec.eraseDataDisks || o.spec.eraseDataDisks.confirm === o.metadata.name,
    },
  ]),
  'Nodes of one role to add to a zone and keep deployed.',
);
export type NodePool = z.infer<typeof NodePoolSchema>;
export type NodePoolInput = z.input<typeof NodePoolSchema>;

export const parseNodePool = parser('NodePool', NodePoolSchema);
