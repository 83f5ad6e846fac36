/**
 * The size of a NodePool as the API server stores it, built by the operator's own code: facts
 * shaped as the collector returns them (10 disks, 8 NICs, 20 `pitrix-*` packages, 15 supervisor
 * services per node), turned into status by the NodePool controller's `toStatusFacts`, the plan
 * from `planNodePool` and its journal from `journalFor`, every step finished with a full output
 * tail (the worst case the schema allows). Pure: the benchmark and the regression guard share it.
 */
import { createHash } from 'node:crypto';
import { SETTINGS_TEMPLATE as SIM_SETTINGS_TEMPLATE } from '../../hack/sim/templates.js';
import { clampStatus } from '../../src/api/clamp.js';
import { GROUP, VERSION } from '../../src/api/common.js';
import type { NodePoolSpec, NodeStatus } from '../../src/api/nodepool.js';
import { toStatusFacts } from '../../src/controllers/nodepool/controller.js';
import { planNodePool } from '../../src/controllers/nodepool/plan.js';
import { SETTINGS_TEMPLATE } from '../../src/controllers/templatefill.js';
import type { BlockDevice, NodeFacts, ServiceStatus } from '../../src/facts/types.js';
import { journalFor, OUTPUT_TAIL_BYTES } from '../../src/runbook/journal.js';

export const REALISTIC = { disks: 10, nics: 8, packages: 20, services: 15 } as const;

const address = (i: number) => `10.${16 + (i >> 16)}.${(i >> 8) & 255}.${(i & 255) + 1}`;

const PACKAGES = [
  'pitrix-common',
  'pitrix-hyper',
  'pitrix-ks-agent',
  'pitrix-compute-server',
  'pitrix-vdi-agent',
  'pitrix-monitor-agent',
  'pitrix-logstash-agent',
  'pitrix-network-agent',
  'pitrix-storage-agent',
  'pitrix-snapshot-agent',
  'pitrix-image-agent',
  'pitrix-billing-agent',
  'pitrix-rdb-agent',
  'pitrix-cache-agent',
  'pitrix-lb-agent',
  'pitrix-vpc-agent',
  'pitrix-eip-agent',
  'pitrix-dns-agent',
  'pitrix-tag-agent',
  'pitrix-ws-agent',
];

/** One node's facts as `collectNodeFacts` returns them, with the realistic counts of issue 15. */
export function realisticFacts(i: number): NodeFacts {
  const disks: BlockDevice[] = [];
  for (let d = 0; d < REALISTIC.disks; d++) {
    const name = `sd${String.fromCharCode(97 + d)}`;
    disks.push({
      name,
      type: 'disk',
      sizeBytes: d === 0 ? 480_103_981_056 : 3_840_755_982_336,
      rotational: d >= 6,
      removable: false,
      transport: 'sata',
      model: d === 0 ? 'INTEL SSDSC2KB480G8' : d >= 6 ? 'ST4000NM0035-1V4107' : 'SAMSUNG MZ7LH3T8HMLT-00005',
      diskClass: d >= 6 ? 'sata' : 'ssd',
      parent: null,
      mountpoint: null,
    });
    // The root disk's partitions are listed by lsblk too (and left out of status by toStatusFacts).
    if (d === 0)
      for (const [p, mp] of [
        ['1', '/boot'],
        ['2', '/'],
      ] as const)
        disks.push({ ...disks[0]!, name: `sda${p}`, type: 'part', model: '', parent: 'sda', mountpoint: mp });
  }
  const ip = address(i);
  const nics = Array.from({ length: REALISTIC.nics }, (_, n) => ({
    name: n < 4 ? `eth${n}` : n < 6 ? `bond${n - 4}` : `br${n - 6}`,
    addresses:
      n === 0
        ? [`${ip}/16`, `fe80::5054:ff:fe${(i & 255).toString(16).padStart(2, '0')}:${n}a2b/64`]
        : [`172.${16 + n}.${(i >> 8) & 255}.${(i & 255) + 1}/24`],
  }));
  const packages = Object.fromEntries(PACKAGES.map((p, k) => [p, `4.6.2-${1000 + k}~ubuntu16.04`]));
  const services: ServiceStatus[] = Array.from({ length: REALISTIC.services }, (_, s) => ({
    name: `${PACKAGES[s]!.replace('pitrix-', '')}:${PACKAGES[s]!.replace('pitrix-', '')}_server`,
    state: 'RUNNING',
    detail: `pid ${10_000 + s}, uptime 41 days, 3:02:11`,
  }));
  return {
    cpuCores: 64,
    arch: 'x86_64',
    memoryMiB: 515_890,
    os: { name: 'Ubuntu', version: '16.04.7', description: 'Ubuntu 16.04.7 LTS', codename: 'xenial' },
    kernel: '4.4.0-210-generic',
    disks,
    nics,
    qemuVersion: '2.5.0',
    qemuBuild: '1:2.5+dfsg-5ubuntu10.51',
    packages,
    services,
    supervisor: 'ok',
    collectedAt: '2026-11-23T10:00:00Z',
    problems: [],
  };
}

/** A full output tail: the most a finished step may carry in status (journal.ts). */
const FULL_TAIL = Array.from({ length: 40 }, (_, l) => `line ${l}: ${'x'.repeat(60)}`)
  .join('\n')
  .slice(-OUTPUT_TAIL_BYTES);

/** The NodePool object with `n` nodes, every one deployed, after its plan finished. */
export function nodePoolObject(n: number): { object: Record<string, unknown>; steps: number } {
  const addresses = Array.from({ length: n }, (_, i) => address(i));
  const spec = {
    zoneRef: { name: 'pek3a' },
    role: 'hyper',
    nodes: addresses.map((a) => ({ address: a })),
    sshPort: 22,
    approval: 'Automatic',
    paused: false,
  } as NodePoolSpec;
  const observations = Object.fromEntries(addresses.map((a, i) => [a, { facts: realisticFacts(i) }]));
  const planned = planNodePool({
    poolName: 'hyper-big',
    spec,
    zone: { zoneId: 'pek3a', mode: 'fusion', installerVersion: '4.6.2' },
    platformNodes: [],
    observations,
    // The firstbox's settings template, as the simulator serves it: without the files it reads the
    // plan deploys nothing (issue 12), and the journal would be empty.
    files: { [SETTINGS_TEMPLATE]: { text: SIM_SETTINGS_TEMPLATE } },
  });
  const journal = journalFor(planned.plan, undefined, '2026-11-23T10:00:00Z');
  journal.steps = journal.steps!.map((s) => ({
    ...s,
    state: 'Succeeded',
    startedAt: '2026-11-23T10:00:01Z',
    finishedAt: '2026-11-23T10:20:01Z',
    exitCode: 0,
    attempts: 1,
    outputTail: FULL_TAIL,
  }));
  const nodes: NodeStatus[] = addresses.map((a, i) => ({
    address: a,
    nodeId: `hyper${i + 1}`,
    phase: 'Deployed',
    facts: toStatusFacts(observations[a]!.facts),
    collectedAt: '2026-11-23T10:00:00Z',
    hostKey: `SHA256:${Buffer.from(`host-key-${i}`).toString('base64').padEnd(43, 'A').slice(0, 43)}`,
  }));
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    observedGeneration: 1,
    lastTransitionTime: '2026-11-23T10:20:02Z',
  });
  const status = {
    observedGeneration: 1,
    conditions: [
      condition('Ready', 'True', 'Completed', `${n} node(s) deployed`),
      condition('Progressing', 'False', 'Idle', 'nothing to do'),
      condition('Degraded', 'False', 'AsExpected', ''),
      condition('Reconciling', 'False', 'Idle', ''),
      condition('Stalled', 'False', 'AsExpected', ''),
    ],
    nodes,
    nodesReady: `${n}/${n}`,
    plan: journal,
  };
  return {
    steps: journal.steps.length,
    object: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'NodePool',
      metadata: {
        name: 'hyper-big',
        namespace: 'pitrix',
        uid: '2b7c0b8e-6a51-4d8e-9c1e-0f3f3b1e5a77',
        resourceVersion: '123456',
        generation: 1,
        creationTimestamp: '2026-11-23T09:59:00Z',
        finalizers: ['ops.pitrix.io/nodepool'],
      },
      spec,
      status,
    },
  };
}

export interface StatusSize {
  nodes: number;
  steps: number;
  /** JSON of the whole object (what etcd holds for a custom resource, managedFields aside). */
  objectBytes: number;
  statusBytes: number;
  /** status.nodes[].facts together. */
  factsBytes: number;
  perNodeBytes: number;
  planBytes: number;
  /** Whether the CRD's own bounds (clamp.ts) would cut this status, and what. */
  clamped: string[];
  /** The object after clamping: what the operator would actually write. */
  writtenObjectBytes: number;
}

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

export function measureStatusSize(n: number): StatusSize {
  const { object, steps } = nodePoolObject(n);
  const status = object.status as { nodes: NodeStatus[]; plan: unknown };
  const clamp = clampStatus('NodePool', status);
  return {
    nodes: n,
    steps,
    objectBytes: bytes(object),
    statusBytes: bytes(status),
    factsBytes: status.nodes.reduce((s, x) => s + bytes(x.facts), 0),
    perNodeBytes: Math.round(bytes(status.nodes) / n),
    planBytes: bytes(status.plan),
    clamped: clamp.omitted,
    writtenObjectBytes: bytes({ ...object, status: clamp.value }),
  };
}

/**
 * A PROPOSAL, not what the operator writes: the facts a person and the controller need from status
 * (the node's shape and what would stop a deployment), each node's package list replaced by the
 * digest of a set the pool lists once (nodes of a pool run the same packages), services reduced to
 * the count running plus those that are not. Measured here to size the redesign of issue 15.
 */
export function compactStatus(n: number): Record<string, unknown> {
  const { object } = nodePoolObject(n);
  const status = object.status as { nodes: NodeStatus[]; plan: unknown };
  const sets = new Map<string, Record<string, string>>();
  const nodes = status.nodes.map((node) => {
    const f = node.facts!;
    const pk = JSON.stringify(f.packages ?? {});
    const digest = createHash('sha256').update(pk).digest('hex').slice(0, 12);
    sets.set(digest, f.packages ?? {});
    const running = (f.services ?? []).filter((s) => s.state === 'RUNNING').length;
    return {
      ...node,
      facts: {
        cpuCores: f.cpuCores,
        arch: f.arch,
        memoryMiB: f.memoryMiB,
        os: `${f.osName} ${f.osVersion}`,
        kernel: f.kernel,
        // `name:class:GiB[:rot][:rm]` for each whole disk.
        disks: (f.disks ?? []).map(
          (d) =>
            `${d.name}:${d.type}:${Math.round((d.sizeBytes ?? 0) / 2 ** 30)}${d.rotational ? ':rot' : ''}${d.removable ? ':rm' : ''}`,
        ),
        nics: (f.nics ?? []).map((x) => `${x.name}=${(x.addresses ?? []).join(',')}`),
        qemuVersion: f.qemuVersion,
        packageSet: digest,
        servicesRunning: running,
        servicesNotRunning: (f.services ?? []).filter((s) => s.state !== 'RUNNING'),
      },
    };
  });
  return {
    ...object,
    status: {
      ...status,
      nodes,
      packageSets: [...sets].map(([digest, packages]) => ({ digest, packages })),
    },
  };
}

export const compactBytes = (n: number) => bytes(compactStatus(n));
