/**
 * What R4's new-zone plan is computed from and what it decides (newzone.ts), with the paths and
 * names the runbook gives (seed 003 §3).
 */
import type { Plan } from '../../api/common.js';
import type { NewZone, ZoneMode } from '../../api/zone.js';
import type { PlatformNode, PlatformZone } from '../../facts/types.js';
import type { PlannedRunbook } from '../../runbook/step.js';
import type { Violation } from '../../runbook/violation.js';
import type { FirstboxFiles } from '../templatefill.js';

export interface GlobalZoneView {
  /** metadata.name of the Zone named by spec.newZone.globalZoneRef. */
  name: string;
  zoneId: string;
  global: boolean;
  regionId?: string;
}

export interface NewZonePlanInput {
  zoneId: string;
  regionId?: string;
  global: boolean;
  mode: ZoneMode;
  newZone: NewZone;
  /** The Zone object named by globalZoneRef; undefined when it does not exist. */
  globalZone?: GlobalZoneView;
  /** The region firstbox's node list (describe-nodes.py -s all). */
  platformNodes: PlatformNode[];
  /** describe-zones.py; undefined when the installer has no such tool. */
  platformZones?: PlatformZone[];
  /** status.plan of the Zone: an AddZone run that started is carried to its end. */
  journal?: Plan;
  /** The templates on the firstbox (variables.template.yaml, settings.template.yaml); absent: not read. */
  files?: FirstboxFiles;
}

export type { Violation };

export type NewZoneDecision =
  /** Nothing to add: observe only. `why` says so in words (for logs and the docs). */
  | { kind: 'observe'; why: string }
  /** The installer cannot tell which zones exist: report it, never guess. */
  | { kind: 'unknown'; reason: string; message: string }
  | { kind: 'refuse'; violations: Violation[] }
  | { kind: 'add'; plan: PlannedRunbook; nodes: string[]; proxies: string[]; globalWebservices: string[] };

export const CACHE_PATTERN = 'Pitrix.Zone.Zone.UserZone.yunify';
export const OPERATE_CACHE = '/pitrix/lib/pitrix-scripts/cache/operate_cache_by_re';
export const EXEC_NODES = '/pitrix/upgrade/exec_nodes.sh';
export const HAPROXY_CFG = '/etc/haproxy/haproxy.cfg';
export const BLOCK_BEGIN = '# BEGIN pitrix-operator region listeners (runbook R4)';
export const BLOCK_END = '# END pitrix-operator region listeners';
export const MEMCACHED_PORT = 11211;

export const newZoneListPath = (zoneId: string) => `/pitrix/conf/operator/new-zone.${zoneId}.list`;
export const variablesPath = (zoneId: string) => `/pitrix/config/variables.${zoneId}.yaml`;
export const settingsPath = (zoneId: string) => `/pitrix/config/settings.${zoneId}.yaml`;
