/**
 * In-memory ControllerDeps for unit tests of the controller layer: an object store with
 * optimistic concurrency standing in for the API server, caches that read it, recorded Events and
 * status writes. The real StatusWriter and metrics run on top, so clamping and "write only when
 * changed" are the production code's.
 */
import pino from 'pino';
import type { ControllerDeps, Informers } from '../../src/controllers/deps.js';
import type { Platform } from '../../src/controllers/platform.js';
import type { Informer } from '../../src/runtime/informer.js';
import type { KubeClient, KubeObject, ResourceType } from '../../src/runtime/kube.js';
import { OperatorMetrics } from '../../src/runtime/metrics.js';
import { StatusWriter } from '../../src/runtime/status.js';

export interface FakeWorld {
  deps: ControllerDeps;
  objects: Map<string, KubeObject>;
  /** Every status the API server accepted, per object key, in order. */
  statusWrites: Array<{ key: string; status: Record<string, unknown> }>;
  events: Array<{ type: string; reason: string; message: string }>;
  put(obj: KubeObject): void;
}

const keyOf = (kind: string, ns: string | undefined, name: string) => `${kind}/${ns ?? ''}/${name}`;

export function fakeWorld(kinds: Array<{ kind: string; informer: string }>): FakeWorld {
  const objects = new Map<string, KubeObject>();
  const statusWrites: FakeWorld['statusWrites'] = [];
  const events: FakeWorld['events'] = [];
  let rv = 1;
  const clone = <T>(o: T): T => structuredClone(o);
  const client = {
    async get(t: ResourceType, ns: string, name: string) {
      const o = objects.get(keyOf(t.kind, ns, name));
      return o ? clone(o) : undefined;
    },
    async replaceStatus(t: ResourceType, obj: KubeObject) {
      const k = keyOf(t.kind, obj.metadata.namespace, obj.metadata.name);
      const cur = objects.get(k);
      if (!cur || cur.metadata.resourceVersion !== obj.metadata.resourceVersion)
        throw Object.assign(new Error('conflict'), { code: 409, statusCode: 409 });
      const next = {
        ...cur,
        status: clone(obj.status),
        metadata: { ...cur.metadata, resourceVersion: String(++rv) },
      };
      objects.set(k, next);
      statusWrites.push({ key: k, status: clone(obj.status) as Record<string, unknown> });
      return clone(next);
    },
    async mergePatch(
      t: ResourceType,
      ns: string,
      name: string,
      patch: { metadata?: Record<string, unknown> },
    ) {
      const k = keyOf(t.kind, ns, name);
      const cur = objects.get(k)!;
      const meta = { ...cur.metadata, ...(patch.metadata ?? {}) } as KubeObject['metadata'];
      if (patch.metadata?.annotations) {
        const a = { ...(cur.metadata.annotations ?? {}) };
        for (const [key, v] of Object.entries(patch.metadata.annotations as Record<string, string | null>))
          if (v === null) delete a[key];
          else a[key] = v;
        meta.annotations = a;
      }
      const next = { ...cur, metadata: { ...meta, resourceVersion: String(++rv) } };
      objects.set(k, next);
      return clone(next);
    },
  } as unknown as KubeClient;
  const informerFor = (kind: string) =>
    ({
      get: (ns: string, name: string) => objects.get(keyOf(kind, ns, name)),
      list: (ns?: string) =>
        [...objects.values()].filter((o) => o.kind === kind && (!ns || o.metadata.namespace === ns)),
      on: () => {},
    }) as unknown as Informer;
  const informers = Object.fromEntries(kinds.map((k) => [k.informer, informerFor(k.kind)])) as Informers;
  const byKind = new Map(kinds.map((k) => [k.kind, informers[k.informer]!]));
  const deps: ControllerDeps = {
    client,
    informers,
    informerOf: (kind) => byKind.get(kind),
    status: new StatusWriter(client),
    events: { event: (_o, type, reason, message) => events.push({ type, reason, message }) },
    metrics: new OperatorMetrics(),
    platform: {} as Platform,
    log: pino({ level: 'silent' }),
  };
  return {
    deps,
    objects,
    statusWrites,
    events,
    put(obj) {
      objects.set(keyOf(obj.kind, obj.metadata.namespace, obj.metadata.name), {
        ...obj,
        metadata: {
          generation: 1,
          ...obj.metadata,
          uid: obj.metadata.uid ?? `uid-${obj.metadata.name}`,
          resourceVersion: String(++rv),
        },
      });
    },
  };
}
