/**
 * Runbook R1 (tag service) preconditions and scope: the global zone and its installer, the Zones
 * the migration and the sub zones need, and which of the platform's zones must point at the tag
 * proxy.
 */
import type { TagServerSpec } from '../../api/tagserver.js';
import { versionAtLeast } from '../../facts/version.js';
import type { Violation } from './plan.js';

export const MIN_INSTALLER = '4.6';

/** A Zone object of the namespace as the preconditions need it. */
export interface ZoneInfo {
  name: string;
  zoneId: string;
  regionId?: string;
  global: boolean;
  ready: boolean;
  readyMessage?: string;
  installerVersion?: string;
  proxyHost?: string;
}

/** Preconditions that need no SSH: the global zone, its installer, the migration zones. */
export function staticPreconditions(spec: TagServerSpec, zones: readonly ZoneInfo[]): Violation[] {
  const v: Violation[] = [];
  const g = zones.find((z) => z.name === spec.zoneRef.name);
  if (!g) return [{ reason: 'ZoneNotFound', message: `Zone ${spec.zoneRef.name} does not exist; create it` }];
  if (!g.global)
    v.push({
      reason: 'NotGlobalZone',
      message: `Zone ${g.name} (${g.zoneId}) is not the global zone (spec.global is false); the tag service runs in the global zone: point spec.zoneRef at it`,
    });
  if (!g.ready)
    v.push({
      reason: 'ZoneNotReady',
      message: `Zone ${g.name} is not Ready${g.readyMessage ? ` (${g.readyMessage})` : ''}`,
    });
  else if (!g.installerVersion)
    v.push({ reason: 'InstallerVersionUnknown', message: `Zone ${g.name} reports no installer version yet` });
  else if (!safeAtLeast(g.installerVersion, MIN_INSTALLER))
    v.push({
      reason: 'InstallerTooOld',
      message: `installer ${g.installerVersion} on the firstbox of ${g.name} is older than ${MIN_INSTALLER}, which the tag service needs (R1); upgrade the installer first`,
    });
  for (const z of spec.migration?.zones ?? []) v.push(...zoneMissing(z, zones, 'spec.migration.zones'));
  return v;
}

/** Preconditions that need the platform's zone list: every sub zone in scope is a Ready Zone. */
export function subZonePreconditions(subZoneIds: readonly string[], zones: readonly ZoneInfo[]): Violation[] {
  return subZoneIds.flatMap((z) => zoneMissing(z, zones, 'sub zone of spec.enabledZones'));
}

function zoneMissing(zoneId: string, zones: readonly ZoneInfo[], why: string): Violation[] {
  const z = zones.find((x) => x.zoneId === zoneId);
  if (!z)
    return [
      {
        reason: 'ZoneNotFound',
        message: `zone ${zoneId} (${why}) has no Zone object in this namespace; create a Zone with spec.zoneId: ${zoneId}`,
      },
    ];
  if (!z.ready)
    return [
      {
        reason: 'ZoneNotReady',
        message: `Zone ${z.name} (${zoneId}, ${why}) is not Ready${z.readyMessage ? ` (${z.readyMessage})` : ''}`,
      },
    ];
  return [];
}

function safeAtLeast(v: string, min: string): boolean {
  try {
    return versionAtLeast(v, min);
  } catch {
    return false;
  }
}

/** The platform's zones that must point at the tag proxy: in an enabled region (or enabled themselves), not global. */
export function subZonesOf(
  enabled: readonly string[],
  globalZoneId: string,
  platformZones:
    | ReadonlyArray<{ zoneId: string; regionId: string | null; isGlobalZone: boolean }>
    | undefined,
  zones: readonly ZoneInfo[],
): string[] {
  const list = platformZones
    ? platformZones.map((z) => ({
        zoneId: z.zoneId,
        regionId: z.regionId ?? undefined,
        global: z.isGlobalZone,
      }))
    : zones.map((z) => ({ zoneId: z.zoneId, regionId: z.regionId, global: z.global }));
  return list
    .filter(
      (z) =>
        !z.global &&
        z.zoneId !== globalZoneId &&
        (enabled.includes(z.zoneId) || (z.regionId !== undefined && enabled.includes(z.regionId))),
    )
    .map((z) => z.zoneId)
    .sort();
}
