/** R4 new zone: the rules enforced before anything runs (seed 003 §3); each message names what to change. Pure. */
import { CLOUD_TYPES } from '../../api/zone.js';
import type { Violation } from '../../runbook/violation.js';
import { validated } from '../../ssh/command.js';
import { ValidationError } from '../../ssh/errors.js';
import type { NewZonePlanInput } from './newzone-input.js';

/** Rules enforced before anything runs; each message names what to change. */
export function rules(input: NewZonePlanInput): Violation[] {
  const { zoneId, newZone, globalZone: gz } = input;
  const v: Violation[] = [];
  // The API refuses these too; a Zone written before the rules existed must not slip through.
  if (
    (newZone.cloudType as string) === 'public' ||
    !(CLOUD_TYPES as readonly string[]).includes(newZone.cloudType)
  ) {
    v.push({
      reason: 'CloudTypePublic',
      message: `spec.newZone.cloudType ${newZone.cloudType}: cloud_type must never be public (runbook R4); use ${CLOUD_TYPES.join(', ')}`,
    });
  }
  if (newZone.vbc && !newZone.vbc.mgmtIps.includes(newZone.vbc.master)) {
    v.push({
      reason: 'VbcMasterNotInMgmtIps',
      message: `spec.newZone.vbc.master ${newZone.vbc.master} must be one of vbc.mgmtIps (the VBC Master node is one of them, runbook R4)`,
    });
  }
  if (newZone.vbc) {
    const hypers = new Set(newZone.nodes.filter((n) => n.roles.includes('hyper')).map((n) => n.address));
    const off = newZone.vbc.mgmtIps.filter((ip) => !hypers.has(ip));
    if (off.length > 0) {
      v.push({
        reason: 'VbcNotOnHyper',
        message: `spec.newZone.vbc.mgmtIps ${off.join(', ')} are not hyper machines of spec.newZone.nodes: VBC is carried by the zone's hyper nodes (runbook R4)`,
      });
    }
  }
  if (!newZone.nodes.some((n) => n.roles.includes('proxy'))) {
    v.push({
      reason: 'NoProxy',
      message:
        'spec.newZone.nodes has no proxy machine: its haproxy must forward to the global webservices (runbook R4)',
    });
  }
  const noEips = newZone.nodes
    .filter((n) => n.roles.includes('vg') && (n.eips?.length ?? 0) === 0)
    .map((n) => n.address);
  if (noEips.length > 0) {
    v.push({
      reason: 'EipsRequired',
      message: `spec.newZone.nodes[].eips: VG nodes need EIP ranges prepared (R4); add the ranges ${noEips.join(', ')} serve(s)`,
    });
  }
  const unsafe = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      v.push({ reason: 'UnsafeValue', message: `${what}: ${err.message}` });
    }
  };
  unsafe('spec.zoneId', () => validated('ZONE_ID', zoneId, 'spec.zoneId'));
  for (const [i, n] of newZone.nodes.entries()) {
    unsafe(`spec.newZone.nodes[${i}]`, () =>
      validated('HOST', n.address, `spec.newZone.nodes[${i}].address`),
    );
  }

  const ref = newZone.globalZoneRef.name;
  if (!gz) {
    v.push({
      reason: 'GlobalZoneNotFound',
      message: `spec.newZone.globalZoneRef: Zone ${ref} does not exist in this namespace; create the global Zone or fix the reference`,
    });
    return v;
  }
  if (!gz.global) {
    v.push({
      reason: 'GlobalZoneRefNotGlobal',
      message: `spec.newZone.globalZoneRef: Zone ${ref} (${gz.zoneId}) is not the global zone (spec.global is false); name the region's global Zone`,
    });
  }
  if (gz.regionId && gz.regionId !== input.regionId) {
    v.push({
      reason: 'RegionMismatch',
      message: `spec.regionId ${input.regionId} differs from the global Zone ${ref}'s regionId ${gz.regionId}; a zone joins its own region`,
    });
  }
  const listedGlobal = input.platformZones?.find((z) => z.zoneId === gz.zoneId);
  if (!listedGlobal?.isGlobalZone) {
    v.push({
      reason: 'GlobalZoneNotOnPlatform',
      message: `firstbox ${listedGlobal ? 'lists' : 'does not list'} zone ${gz.zoneId}${listedGlobal ? ' but not as the global zone' : ''} (describe-zones.py); a new zone is added from the region's firstbox, which must know the global zone`,
    });
  } else if (listedGlobal.regionId && listedGlobal.regionId !== input.regionId) {
    v.push({
      reason: 'RegionMismatch',
      message: `the installer puts global zone ${gz.zoneId} in region ${listedGlobal.regionId}, not spec.regionId ${input.regionId}`,
    });
  }
  const globalNodes = input.platformNodes.filter((n) => n.zoneId === gz.zoneId && n.status === 'deployed');
  const webservices = globalNodes.filter((n) => n.roles.includes('webservice'));
  if (webservices.length === 0) {
    v.push({
      reason: 'NoGlobalWebservice',
      message: `firstbox lists no deployed webservice node in global zone ${gz.zoneId}: the zone cache clear, the ws_server/billing_resource restart and the proxies' api-front need them`,
    });
  }
  for (const w of webservices) {
    unsafe(`global webservice ${w.nodeId}`, () => validated('IPV4', w.mgmtIp, `mgmt_ip of ${w.nodeId}`));
  }
  const zoocassa = globalNodes.filter((n) => n.roles.includes('zoocassa'));
  if (zoocassa.length === 0) {
    v.push({
      reason: 'NoGlobalZoocassa',
      message: `firstbox lists no deployed zoocassa node in global zone ${gz.zoneId}: the memcache servers of the zone cache clear (operate_cache_by_re -S) are its zoocassa nodes`,
    });
  }
  for (const z of zoocassa) {
    unsafe(`zoocassa ${z.nodeId}`, () =>
      z.hostname
        ? validated('HOSTNAME', z.hostname, `hostname of ${z.nodeId}`)
        : validated('IPV4', z.mgmtIp, `mgmt_ip of ${z.nodeId}`),
    );
  }

  const byIp = new Map(input.platformNodes.map((n) => [n.mgmtIp, n]));
  for (const n of newZone.nodes) {
    const known = byIp.get(n.address);
    if (known && known.zoneId !== zoneId) {
      v.push({
        reason: 'NodeInAnotherZone',
        message: `${n.address} is known to the installer as ${known.nodeId} in zone ${known.zoneId} (status ${known.status}); remove it from spec.newZone.nodes`,
      });
    }
  }
  return v;
}
