/**
 * Reads an API-server audit log written with hack/controlplane.ts's `auditLog` (every write, with
 * its request and response bodies) and says, for the writes in a time window, which object was
 * written, by which verb and user, and which fields the write changed: each write's response is
 * compared with the object as the previous write left it (every write is in the log, so the
 * previous response is what the object was). `resourceVersion`, `managedFields` and an Event's
 * own bookkeeping are named apart from the fields a user reads.
 */
import { readFileSync } from 'node:fs';

export interface AuditEvent {
  verb: string;
  stage: string;
  requestURI: string;
  user?: { username?: string };
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number };
  requestObject?: unknown;
  responseObject?: unknown;
  requestReceivedTimestamp: string;
}

export interface WriteSeen {
  at: string;
  verb: string;
  object: string;
  /** Who wrote: `system:apiserver` is the API server's own (its identity Lease, its endpoints). */
  user: string;
  userAgent: string;
  code: number;
  /** Paths whose value differs from the object as the previous write left it. */
  changed: string[];
  /** A few of the changes, `path: before → after`, values cut to 120 characters. */
  samples: string[];
}

export function readAudit(path: string): AuditEvent[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.stage === 'ResponseComplete');
}

const WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
/** The API server's own identity: its loopback client writes its Lease and endpoints every 10 s. */
export const APISERVER_USER = 'system:apiserver';

/** Bookkeeping the API server moves on every write: not what a write is for. */
const BOOKKEEPING = [/^metadata\.resourceVersion$/, /^metadata\.managedFields/];

function objectKey(e: AuditEvent): string {
  const r = e.objectRef ?? {};
  return `${r.resource}/${r.namespace ?? ''}/${r.name ?? '?'}`;
}

/** Leaf paths where `a` and `b` differ (arrays by index; a list of `type`d or `name`d items by key). */
export function diffPaths(a: unknown, b: unknown, path = '', out: Array<[string, unknown, unknown]> = []) {
  if (a === b) return out;
  const bothObjects = a && b && typeof a === 'object' && typeof b === 'object';
  if (!bothObjects) {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push([path || '.', a, b]);
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const key = ['type', 'name', 'id', 'address'].find((k) =>
      [...a, ...b].every((x) => x && typeof x === 'object' && typeof (x as never)[k] === 'string'),
    );
    if (key) {
      const am = new Map(a.map((x) => [(x as Record<string, string>)[key], x]));
      const bm = new Map(b.map((x) => [(x as Record<string, string>)[key], x]));
      for (const k of new Set([...am.keys(), ...bm.keys()]))
        diffPaths(am.get(k), bm.get(k), `${path}[${k}]`, out);
      return out;
    }
    for (let i = 0; i < Math.max(a.length, b.length); i++) diffPaths(a[i], b[i], `${path}[${i}]`, out);
    return out;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)]))
    diffPaths(ao[k], bo[k], path ? `${path}.${k}` : k, out);
  return out;
}

const cut = (v: unknown) => {
  const s = v === undefined ? '(none)' : JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
};

/** Every write whose request arrived in [fromMs, toMs), with what it changed. */
export function writesIn(events: AuditEvent[], fromMs: number, toMs: number): WriteSeen[] {
  const last = new Map<string, unknown>();
  const seen: WriteSeen[] = [];
  for (const e of events) {
    if (!WRITES.has(e.verb)) continue;
    const key = objectKey(e);
    const before = last.get(key);
    const after = e.responseObject;
    const code = e.responseStatus?.code ?? 0;
    const ok = code >= 200 && code < 300;
    if (ok && after && typeof after === 'object' && (after as { kind?: string }).kind !== 'Status')
      last.set(key, after);
    const t = Date.parse(e.requestReceivedTimestamp);
    if (t < fromMs || t >= toMs) continue;
    const diffs = ok && before ? diffPaths(before, after) : [];
    const user = diffs.filter(([p]) => !BOOKKEEPING.some((re) => re.test(p)));
    seen.push({
      at: e.requestReceivedTimestamp,
      verb: e.verb,
      object: `${key}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`,
      user: e.user?.username ?? '',
      userAgent: (e.userAgent ?? '').split(' ')[0] ?? '',
      code,
      changed: !ok ? [`(refused: ${code})`] : before ? user.map(([p]) => p) : ['(first write seen)'],
      samples: user.slice(0, 6).map(([p, x, y]) => `${p}: ${cut(x)} → ${cut(y)}`),
    });
  }
  return seen;
}

/**
 * The writes grouped by kind of object, verb and the fields they changed (names folded to `*`,
 * so 100 pools writing the same field are one line): count and one example.
 */
export function summarizeWrites(writes: WriteSeen[]): Array<{
  count: number;
  user: string;
  verb: string;
  resource: string;
  changed: string;
  example: string;
  samples: string[];
}> {
  const groups = new Map<string, { count: number; w: WriteSeen }>();
  for (const w of writes) {
    const [resource, , , sub] = w.object.split('/');
    const fields = w.changed
      .map((p) => p.replace(/\[[^\]]*\]/g, '[*]'))
      .filter((p, i, all) => all.indexOf(p) === i)
      .join(', ');
    const k = `${w.user} ${w.verb} ${resource}${sub ? `/${sub}` : ''} ${w.code} | ${fields || '(nothing)'}`;
    const g = groups.get(k);
    if (g) g.count++;
    else groups.set(k, { count: 1, w });
  }
  return [...groups.entries()]
    .sort((a, b) => b[1].count - a[1].count)
    .map(([k, { count, w }]) => {
      const [head, changed] = k.split(' | ');
      const [, verb, resource] = head!.split(' ');
      return {
        count,
        user: w.user,
        verb: verb!,
        resource: resource!,
        changed: changed!,
        example: w.object,
        samples: w.samples,
      };
    });
}
