/**
 * The installer's node and zone lists (`describe-nodes.py -f json`, `describe-zones.py -f json`),
 * validated with zod: a malformed answer must stop a reconcile with a message that says which
 * node and field, never become `undefined` deep inside a plan.
 */
import { z } from 'zod';
import { excerpt, FactsParseError } from './errors.js';
import type { PlatformNode, PlatformZone } from './types.js';

// The installer is Python: flags come as 0/1 or true/false depending on the field and version.
const flag = z.union([z.boolean(), z.literal(0), z.literal(1)]).transform((v) => v === true || v === 1);
const count = z.number().int().nonnegative();

const diskSchema = z.object({
  device: z.string().regex(/^[a-z][a-z0-9]{1,31}$/, 'not a device name'),
  type: z.enum(['ssd', 'sata', 'nvme']),
  size_gib: count,
  enabled: flag,
});

const nodeSchema = z.object({
  node_id: z.string().min(1),
  hostname: z.string(),
  mgmt_ip: z.string().min(1),
  zone_id: z.string().min(1),
  // Some installer versions print roles comma-separated.
  roles: z.union([
    z.array(z.string()),
    z.string().transform((s) =>
      s
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean),
    ),
  ]),
  status: z.enum(['new', 'collected', 'available', 'deployed']),
  // Hardware facts exist only once collect-nodes.py has run.
  cpu_cores: count.nullish(),
  arch: z.string().nullish(),
  memory_mb: count.nullish(),
  os_name: z.string().nullish(),
  os_version: z.string().nullish(),
  disks: z.array(diskSchema).nullish(),
  vip: flag.nullish(),
});

const nodesResponse = z.object({
  action: z.literal('DescribeNodesResponse'),
  ret_code: z.literal(0),
  total_count: count.optional(),
  node_set: z.array(nodeSchema),
});

const zoneSchema = z.object({
  zone_id: z.string().min(1),
  region_id: z.string().nullish(),
  is_global_zone: flag,
  mode: z.enum(['standard', 'fusion', 'devops']),
  status: z.string(),
});

const zonesResponse = z.object({
  action: z.literal('DescribeZonesResponse'),
  ret_code: z.literal(0),
  total_count: count.optional(),
  zone_set: z.array(zoneSchema),
});

function formatIssues(error: z.ZodError): string {
  const shown = error.issues.slice(0, 5).map((i) => {
    const path = i.path
      .map((p, n) => (typeof p === 'number' ? `[${p}]` : n === 0 ? String(p) : `.${String(p)}`))
      .join('');
    return `${path || '(top level)'}: ${i.message}`;
  });
  const more = error.issues.length > 5 ? `; and ${error.issues.length - 5} more` : '';
  return shown.join('; ') + more;
}

/** JSON from the first `{`: Python tools may print warnings before it. */
function parseJsonObject(section: string, what: string, text: string): Record<string, unknown> {
  const start = text.indexOf('{');
  if (start < 0) throw new FactsParseError(section, `${what} printed no JSON (${excerpt(text)})`);
  let doc: unknown;
  try {
    doc = JSON.parse(text.slice(start));
  } catch (err) {
    throw new FactsParseError(section, `${what} printed invalid JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new FactsParseError(section, `${what} did not print a JSON object`);
  }
  const o = doc as Record<string, unknown>;
  // An API-level failure carries its own message; say that rather than "ret_code: expected 0".
  if (typeof o.ret_code === 'number' && o.ret_code !== 0) {
    const msg = typeof o.message === 'string' ? o.message : 'no message';
    throw new FactsParseError(section, `${what} failed with ret_code ${o.ret_code}: ${msg}`);
  }
  return o;
}

export function parseDescribeNodes(text: string): PlatformNode[] {
  const doc = parseJsonObject('nodes', 'describe-nodes.py', text);
  const r = nodesResponse.safeParse(doc);
  if (!r.success)
    throw new FactsParseError('nodes', `describe-nodes.py answer is malformed: ${formatIssues(r.error)}`);
  return r.data.node_set.map((n) => ({
    nodeId: n.node_id,
    hostname: n.hostname,
    mgmtIp: n.mgmt_ip,
    zoneId: n.zone_id,
    roles: n.roles,
    status: n.status,
    cpuCores: n.cpu_cores ?? null,
    arch: n.arch ?? null,
    memoryMiB: n.memory_mb ?? null,
    osName: n.os_name ?? null,
    osVersion: n.os_version ?? null,
    disks: (n.disks ?? []).map((d) => ({
      device: d.device,
      type: d.type,
      sizeGiB: d.size_gib,
      enabled: d.enabled,
    })),
    vip: n.vip ?? false,
  }));
}

export function parseDescribeZones(text: string): PlatformZone[] {
  const doc = parseJsonObject('zones', 'describe-zones.py', text);
  const r = zonesResponse.safeParse(doc);
  if (!r.success)
    throw new FactsParseError('zones', `describe-zones.py answer is malformed: ${formatIssues(r.error)}`);
  return r.data.zone_set.map((zone) => ({
    zoneId: zone.zone_id,
    regionId: zone.region_id ?? null,
    isGlobalZone: zone.is_global_zone,
    mode: zone.mode,
    status: zone.status,
  }));
}
