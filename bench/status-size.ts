/**
 * `npm run bench -- status-size [--nodes 50,200,500] [--apiserver] [--record]`: bytes of a NodePool
 * with realistic facts (bench/lib/statussize.ts) as the operator would write it, against the
 * target of issue 15 (< 512 KiB at 500 nodes; the API server's request limit is 1.5 MiB). With
 * `--apiserver` each size is also written to a real kube-apiserver + etcd (hack/controlplane.ts)
 * through the operator's StatusWriter and read back: the stored JSON, managedFields included, or
 * the API server's refusal.
 */
import { parseArgs } from 'node:util';
import { startControlPlane, testNamespace } from '../hack/controlplane.js';
import { nodePoolKind } from '../src/api/kinds.js';
import { resourceType } from '../src/controllers/deps.js';
import { KubeClient, type KubeObject, loadKubeConfig } from '../src/runtime/kube.js';
import { StatusWriter } from '../src/runtime/status.js';
import { commandLine, header, load1, log, machine, textTable, writeResult } from './lib/result.js';
import { compactBytes, measureStatusSize, nodePoolObject, REALISTIC } from './lib/statussize.js';

const TARGET_BYTES = 512 * 1024;
const LIMIT_BYTES = 1.5 * 1024 * 1024;

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '50,200,500' },
    apiserver: { type: 'boolean' },
    record: { type: 'boolean' },
  },
  strict: true,
});
const sizes = values.nodes!.split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 5000))
  throw new Error('--nodes takes a comma-separated list of node counts 1..5000');

const m = machine();
const kib = (b: number | undefined) => (b === undefined ? '-' : (b / 1024).toFixed(1));

interface Stored {
  accepted: boolean;
  storedBytes?: number;
  managedFieldsBytes?: number;
  error?: string;
}

/** Creates the pool (spec as given), writes its status the operator's way, reads the stored object. */
async function store(client: KubeClient, ns: string, n: number): Promise<Stored> {
  const type = resourceType(nodePoolKind);
  const { object } = nodePoolObject(n);
  const name = `pool-${n}`;
  let created: KubeObject;
  try {
    created = (await client.custom.createNamespacedCustomObject({
      group: type.group,
      version: type.version,
      namespace: ns,
      plural: type.plural,
      body: { apiVersion: object.apiVersion, kind: 'NodePool', metadata: { name }, spec: object.spec },
    })) as KubeObject;
  } catch (err) {
    return { accepted: false, error: `create refused: ${String((err as { body?: unknown }).body ?? err)}` };
  }
  try {
    const { outcome } = await new StatusWriter(client).write(
      type,
      created,
      object.status as Record<string, unknown>,
    );
    if (outcome !== 'written') return { accepted: false, error: `status write: ${outcome}` };
  } catch (err) {
    const body = String((err as { body?: unknown }).body ?? err);
    return { accepted: false, error: `status write refused: ${body.slice(0, 400)}` };
  }
  const got = (await client.get(type, ns, name)) as KubeObject & {
    metadata: { managedFields?: unknown[] };
  };
  return {
    accepted: true,
    storedBytes: Buffer.byteLength(JSON.stringify(got)),
    managedFieldsBytes: Buffer.byteLength(JSON.stringify(got.metadata.managedFields ?? [])),
  };
}

const rows = sizes.map((n) => ({ ...measureStatusSize(n), proposedCompactBytes: compactBytes(n) }));
const stored = new Map<number, Stored>();
if (values.apiserver) {
  log('starting kube-apiserver + etcd (hack/controlplane.ts)');
  const cp = await startControlPlane({ log });
  try {
    const client = new KubeClient(loadKubeConfig(cp.kubeconfig));
    const ns = await testNamespace(cp, 'bench-size');
    for (const n of sizes) {
      stored.set(n, await store(client, ns, n));
      log(`${n} nodes: ${JSON.stringify(stored.get(n))}`);
    }
  } finally {
    await cp.stop();
  }
}

const table: (string | number)[][] = [
  [
    'nodes',
    'steps',
    'object KiB',
    'facts KiB',
    'per node B',
    'plan KiB',
    'written KiB',
    'stored KiB',
    'managedFields KiB',
    'proposed KiB',
    'target',
  ],
  ...rows.map((r) => {
    const s = stored.get(r.nodes);
    return [
      r.nodes,
      r.steps,
      kib(r.objectBytes),
      kib(r.factsBytes),
      r.perNodeBytes,
      kib(r.planBytes),
      kib(r.writtenObjectBytes),
      s ? (s.accepted ? kib(s.storedBytes) : 'refused') : '-',
      s?.accepted ? kib(s.managedFieldsBytes) : '-',
      kib(r.proposedCompactBytes),
      r.nodes === 500 ? (r.objectBytes < TARGET_BYTES ? 'met' : 'MISSED') : '',
    ];
  }),
];
const notes = [
  `Per node: ${REALISTIC.disks} disks, ${REALISTIC.nics} NICs, ${REALISTIC.packages} pitrix-* packages, ${REALISTIC.services} supervisor services; every plan step finished with a full 2 KiB output tail (the worst case).`,
  '"object": the NodePool as the operator builds it (toStatusFacts, planNodePool, journalFor), JSON without managedFields. "written": after clamping to the CRD bounds (api/clamp.ts): the CRD allows at most 256 nodes per pool, so a 500-node status loses 244 nodes and the API refuses a 500-node spec outright.',
  '"stored": the object read back from a real kube-apiserver after the StatusWriter wrote it (custom resources are stored in etcd as this JSON), managedFields included; "refused" with the reason in the JSON.',
  '"proposed": NOT implemented: the same pool with facts summarised in status (disks and NICs as short strings, packages as a digest of a pool-level set, services as a running count plus those not running); bench/lib/statussize.ts compactStatus.',
  `Target: < ${TARGET_BYTES / 1024} KiB at 500 nodes; the API server / etcd limit is ${LIMIT_BYTES / 1024 / 1024} MiB.`,
];
console.log(
  [header('NodePool status size', m), `command: ${commandLine('status-size')}`, '', textTable(table), '']
    .concat(notes.map((n) => `note: ${n}`))
    .join('\n'),
);
const at500 = rows.find((r) => r.nodes === 500);
writeResult(
  'status-size',
  {
    schema: 'pitrix-bench/status-size/v1',
    date: new Date().toISOString(),
    command: commandLine('status-size'),
    machine: m,
    loadavg1: load1(),
    results: rows.map((r) => ({ ...r, apiserver: stored.get(r.nodes) ?? null })),
    target: {
      bytesAt500: TARGET_BYTES,
      measuredAt500: at500?.objectBytes ?? null,
      met: at500 ? at500.objectBytes < TARGET_BYTES : null,
      proposedAt500: at500?.proposedCompactBytes ?? null,
    },
    notes,
  } as never,
  !!values.record,
);
