/**
 * `npm run bench -- status-write [--steps 200] [--writes 40] [--record]`: what one journal write
 * costs against a real kube-apiserver + etcd, by how it is written and by the CRD's schema for
 * `status.plan.steps`. A NodePool whose journal holds N steps (the engine benchmark's plan, every
 * step finished) gets one step's state changed per write (Running ↔ Succeeded, new times), the
 * way the engine journals a step, and each variant's writes are timed where the client makes them,
 * round-robin so a change of load hits every variant alike.
 *
 * Schemas (the NodePool CRD of crds/, copied under one API group each so all live in one API
 * server):
 * - map: `x-kubernetes-list-type: map`, key `id` (the CRD before 2026-12-02): server-side field
 *   tracking records every field of every step in `managedFields`;
 * - atomic: `status.plan.steps` with `x-kubernetes-list-type: atomic` (the list is one field; the
 *   CRD since, src/api/common.ts `statusList`);
 * - free: `status.plan` with `x-kubernetes-preserve-unknown-fields` and no schema below (no
 *   validation, no per-field tracking): how much is validation.
 *
 * Writes: `put` (the StatusWriter's PUT of the status subresource, the object as last read,
 * managedFields included), `put-nomf` (the same without `metadata.managedFields`: the server keeps
 * its own), `merge` (JSON merge patch with the resourceVersion as precondition: the whole steps
 * list, since a merge patch replaces a list), `jsonpatch` (JSON patch: the resourceVersion, the one
 * step and currentStep), and `get` (a GET of the same object, the reference).
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { startControlPlane, testNamespace } from '../hack/controlplane.js';
import type { Plan, PlanStep } from '../src/api/common.js';
import { journalFor } from '../src/runbook/journal.js';
import { makePlan } from '../src/runbook/step.js';
import { KubeClient, type KubeObject, loadKubeConfig } from '../src/runtime/kube.js';
import { benchSteps } from './lib/engine.js';
import { commandLine, header, load1, log, machine, ROOT, textTable, writeResult } from './lib/result.js';
import { median, percentile, round } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '200' },
    writes: { type: 'string', default: '40' },
    record: { type: 'boolean' },
  },
  strict: true,
});
const stepCount = Number(values.steps);
const writes = Number(values.writes);
if (!Number.isInteger(stepCount) || stepCount < 2 || stepCount > 256)
  throw new Error('--steps must be 2..256');
if (!Number.isInteger(writes) || writes < 5) throw new Error('--writes must be ≥ 5');

type SchemaName = 'map' | 'atomic' | 'free';
type WriteName = 'put' | 'put-nomf' | 'merge' | 'jsonpatch' | 'get';
const SCHEMAS: SchemaName[] = ['map', 'atomic', 'free'];
const WRITES: WriteName[] = ['put', 'put-nomf', 'merge', 'jsonpatch', 'get'];

/** The NodePool CRD of crds/, under its own API group, with `status.plan` as `schema` says. */
function crdVariant(schema: SchemaName): { crd: Record<string, unknown>; group: string } {
  const crd = parse(readFileSync(join(ROOT, 'crds/ops.pitrix.io_nodepools.yaml'), 'utf8'));
  const group = `${schema}.bench.pitrix.io`;
  crd.metadata.name = `nodepools.${group}`;
  crd.spec.group = group;
  for (const v of crd.spec.versions) {
    const plan = v.schema.openAPIV3Schema.properties.status.properties.plan;
    const steps = plan.properties.steps;
    if (schema === 'map')
      Object.assign(steps, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['id'] });
    else if (schema === 'atomic') {
      steps['x-kubernetes-list-type'] = 'atomic';
      delete steps['x-kubernetes-list-map-keys'];
    } else {
      for (const k of Object.keys(plan)) if (k !== 'description') delete plan[k];
      Object.assign(plan, { type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
    }
  }
  return { crd, group };
}

/** The engine benchmark's plan of N steps, every step finished as the engine leaves it. */
function journal(n: number): Plan {
  const j = journalFor(makePlan(benchSteps(n)), undefined, '2026-12-02T10:00:00Z');
  return {
    ...j,
    steps: j.steps!.map(
      (s): PlanStep => ({
        ...s,
        state: 'Succeeded',
        startedAt: '2026-12-02T10:00:01Z',
        finishedAt: '2026-12-02T10:00:02Z',
        exitCode: 0,
        attempts: 1,
      }),
    ),
  };
}

const m = machine();
log('starting kube-apiserver + etcd (hack/controlplane.ts)');
const cp = await startControlPlane({ log });
const client = new KubeClient(loadKubeConfig(cp.kubeconfig));
const rows: Array<{
  schema: SchemaName;
  write: WriteName;
  medianMs: number;
  p90Ms: number;
  requestBytes: number;
  storedBytes: number;
  managedFieldsBytes: number;
}> = [];
const serverMs: Record<string, number> = {};
try {
  const ns = await testNamespace(cp, 'bench-status-write');
  const groups: Record<SchemaName, string> = { map: '', atomic: '', free: '' };
  for (const s of SCHEMAS) {
    const { crd, group } = crdVariant(s);
    groups[s] = group;
    await cp.kubectl(['apply', '--server-side', '-f', '-'], { input: stringify(crd) });
    await cp.kubectl(['wait', '--for=condition=Established', '--timeout=30s', `crd/nodepools.${group}`]);
  }
  // One object per (schema, write), so no variant's writes grow another's managedFields.
  const objs = new Map<string, KubeObject>();
  const base = journal(stepCount);
  for (const s of SCHEMAS)
    for (const w of WRITES) {
      const t = { group: groups[s], version: 'v1alpha1', plural: 'nodepools', kind: 'NodePool' };
      const name = `${w}`;
      const created = (await client.custom.createNamespacedCustomObject({
        group: t.group,
        version: t.version,
        namespace: ns,
        plural: t.plural,
        body: {
          apiVersion: `${t.group}/${t.version}`,
          kind: 'NodePool',
          metadata: { name },
          spec: { zoneRef: { name: 'bench' }, role: 'hyper', nodes: [{ address: '10.0.0.1' }] },
        },
        fieldManager: client.fieldManager,
      })) as KubeObject;
      const written = await client.replaceStatus(t, { ...created, status: { plan: base, currentStep: 'x' } });
      objs.set(`${s}/${w}`, written);
    }
  // The API server's own time per request (apiserver_request_duration_seconds), by group and
  // verb: PUT and GET are one variant each; PATCH is merge and JSON patch together.
  const serverTimes = async () => {
    const r = await cp.kubectl(['get', '--raw', '/metrics']);
    const out = new Map<string, { sum: number; count: number }>();
    for (const line of r.stdout.split('\n')) {
      const mm = /^apiserver_request_duration_seconds_(sum|count)\{(.*)\} (\S+)$/.exec(line);
      if (!mm || !mm[2]!.includes('resource="nodepools"')) continue;
      const group = /group="([^"]*)"/.exec(mm[2]!)?.[1];
      const verb = /verb="([^"]*)"/.exec(mm[2]!)?.[1];
      const k = `${group}/${verb}`;
      const e = out.get(k) ?? { sum: 0, count: 0 };
      e[mm[1] as 'sum' | 'count'] += Number(mm[3]);
      out.set(k, e);
    }
    return out;
  };
  let server0 = new Map<string, { sum: number; count: number }>();
  const times = new Map<string, number[]>();
  const bytes = new Map<string, number>();
  log(
    `${SCHEMAS.length * WRITES.length} objects of ${stepCount} steps; ${writes} writes each (load ${load1()})`,
  );
  for (let i = 0; i < writes; i++) {
    // After the warm-up round, as the client's times.
    if (i === 1) server0 = await serverTimes();
    const idx = i % stepCount;
    const at = `2026-12-02T11:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}Z`;
    for (const s of SCHEMAS)
      for (const w of WRITES) {
        const key = `${s}/${w}`;
        const obj = objs.get(key)!;
        const t = { group: groups[s], version: 'v1alpha1', plural: 'nodepools', kind: 'NodePool' };
        const status = obj.status as { plan: Plan; currentStep?: string };
        const old = status.plan.steps![idx]!;
        const step: PlanStep =
          old.state === 'Running'
            ? { ...old, state: 'Succeeded', finishedAt: at, exitCode: 0 }
            : { ...old, state: 'Running', startedAt: at, attempts: (old.attempts ?? 0) + 1 };
        const steps = status.plan.steps!.map((x, k) => (k === idx ? step : x));
        const next = { ...status, plan: { ...status.plan, steps }, currentStep: step.id };
        const req = {
          group: t.group,
          version: t.version,
          namespace: ns,
          plural: t.plural,
          name: obj.metadata.name,
          fieldManager: client.fieldManager,
        };
        let body: unknown;
        let call: () => Promise<unknown>;
        if (w === 'put' || w === 'put-nomf') {
          const metadata = { ...obj.metadata } as Record<string, unknown>;
          if (w === 'put-nomf') delete metadata.managedFields;
          body = { ...obj, metadata, status: next };
          call = () => client.custom.replaceNamespacedCustomObjectStatus({ ...req, body: body as object });
        } else if (w === 'merge') {
          body = {
            metadata: { resourceVersion: obj.metadata.resourceVersion },
            status: { plan: { steps }, currentStep: step.id },
          };
          call = () =>
            client.custom.patchNamespacedCustomObjectStatus(
              { ...req, body: body as object },
              setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
            );
        } else if (w === 'jsonpatch') {
          body = [
            { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion },
            { op: 'replace', path: `/status/plan/steps/${idx}`, value: step },
            { op: 'replace', path: '/status/currentStep', value: step.id },
          ];
          call = () =>
            client.custom.patchNamespacedCustomObjectStatus(
              { ...req, body: body as object },
              setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
            );
        } else {
          body = undefined;
          call = () => client.custom.getNamespacedCustomObject(req);
        }
        const t0 = performance.now();
        const res = (await call()) as KubeObject;
        const ms = performance.now() - t0;
        if (w !== 'get') {
          const got = (res.status as { plan: Plan }).plan.steps![idx]!;
          if (got.state !== step.state) throw new Error(`${key}: the write did not land (${got.state})`);
          objs.set(key, res);
        }
        bytes.set(key, body === undefined ? 0 : Buffer.byteLength(JSON.stringify(body)));
        if (i > 0) (times.get(key) ?? times.set(key, []).get(key)!).push(ms); // the first is a warm-up
      }
  }
  const server1 = await serverTimes();
  for (const s of SCHEMAS)
    for (const v of ['PUT', 'PATCH', 'GET']) {
      const a = server0.get(`${groups[s]}/${v}`) ?? { sum: 0, count: 0 };
      const b = server1.get(`${groups[s]}/${v}`) ?? { sum: 0, count: 0 };
      serverMs[`${s}/${v}`] = round(((b.sum - a.sum) / Math.max(1, b.count - a.count)) * 1000, 1);
    }
  for (const s of SCHEMAS)
    for (const w of WRITES) {
      const key = `${s}/${w}`;
      const t = { group: groups[s], version: 'v1alpha1', plural: 'nodepools', kind: 'NodePool' };
      const stored = (await client.get(t, ns, w))!;
      const mf = (stored.metadata as { managedFields?: unknown }).managedFields;
      const ms = times.get(key)!;
      rows.push({
        schema: s,
        write: w,
        medianMs: round(median(ms), 1),
        p90Ms: round(percentile(ms, 90), 1),
        requestBytes: bytes.get(key)!,
        storedBytes: Buffer.byteLength(JSON.stringify(stored)),
        managedFieldsBytes: Buffer.byteLength(JSON.stringify(mf ?? [])),
      });
    }
} finally {
  await cp.stop();
}

const kib = (b: number) => (b / 1024).toFixed(1);
const VERB: Record<WriteName, string> = {
  put: 'PUT',
  'put-nomf': 'PUT',
  merge: 'PATCH',
  jsonpatch: 'PATCH',
  get: 'GET',
};
const table = textTable([
  ['schema', 'write', 'ms p50', 'ms p90', 'server ms', 'request KiB', 'object KiB', 'managedFields KiB'],
  ...rows.map((r) => [
    r.schema,
    r.write,
    r.medianMs.toFixed(1),
    r.p90Ms.toFixed(1),
    String(serverMs[`${r.schema}/${VERB[r.write]}`] ?? '-'),
    kib(r.requestBytes),
    kib(r.storedBytes),
    kib(r.managedFieldsBytes),
  ]),
]);
const notes = [
  `A NodePool whose status.plan holds ${stepCount} finished steps (the engine benchmark's plan); each write changes one step (Running ↔ Succeeded with new times) and currentStep; ${writes - 1} timed writes per variant after one warm-up, variants round-robin. Times are the client's (client-node), request to parsed response.`,
  'schema map: status.plan.steps a list-map keyed by id (the CRD before this change); atomic: x-kubernetes-list-type atomic (the CRD now); free: status.plan x-kubernetes-preserve-unknown-fields, no schema below. Each its own API group.',
  'object KiB: the stored object as a GET returns it, managedFields included.',
  "server ms: the API server's mean time per request of that verb and schema (apiserver_request_duration_seconds; PUT is put and put-nomf together, PATCH merge and jsonpatch together), the rest of the client's time is the round trip and the client's own encoding and parsing.",
];
console.log(
  [header('Status write cost', m), `command: ${commandLine('status-write')}`, '', table, '']
    .concat(notes.map((n) => `note: ${n}`))
    .join('\n'),
);
writeResult(
  'status-write',
  {
    schema: 'pitrix-bench/status-write/v1',
    date: new Date().toISOString(),
    command: commandLine('status-write'),
    machine: m,
    config: { steps: stepCount, writes },
    results: rows,
    serverMeanMs: serverMs,
    notes,
  } as never,
  !!values.record,
);
