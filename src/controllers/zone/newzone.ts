/**
 * Runbook R4, "a new zone in a region" (seed 003 §3), as a pure function: from the Zone's spec,
 * the global Zone it names, what the region's firstbox reports (`describe-nodes.py`,
 * `describe-zones.py`) and the journal of an earlier run, decide whether the zone must be added,
 * which rules forbid it (nothing runs then), and the ordered steps:
 *
 *   node list → add-nodes.py -z → collect-nodes.py → describe-nodes.py -s available →
 *   variables.ZONE_ID.yaml + settings.ZONE_ID.yaml → config-qingcloud.py -v … -s … →
 *   scale-qingcloud-zone.py -z ZONE_ID -I LIST → on the global webservice: memcache clear
 *   (operate_cache_by_re … -A delete -P "Pitrix.Zone.Zone.UserZone.yunify") and
 *   `supervisorctl restart ws_server billing_resource`, one node at a time → on each new proxy,
 *   one at a time: haproxy listeners api-front / ws-front / io-front, `service haproxy restart`.
 *
 * Everything runs on the firstbox; nodes are reached with the installer's own
 * `exec_nodes.sh IP 'COMMAND'`, so no node host key has to be learned mid-plan. No I/O here: the
 * golden-plan tests run this directly.
 */
import { isComplete } from '../../runbook/journal.js';
import { makePlan } from '../../runbook/step.js';
import { validated } from '../../ssh/command.js';
import { filledFiles } from './newzone-files.js';
import type { NewZoneDecision, NewZonePlanInput } from './newzone-input.js';
import { rules } from './newzone-rules.js';
import { addZoneSteps } from './newzone-steps.js';

export { renderListeners, settingsFills, variablesFills } from './newzone-files.js';
export * from './newzone-input.js';

/** Whether this Zone takes the new-zone path at all, and if so the plan or why not. */
export function planNewZone(input: NewZonePlanInput): NewZoneDecision {
  const { zoneId, newZone } = input;
  if (input.global)
    return { kind: 'observe', why: 'a global zone is never added to a region by this runbook' };
  if (!input.regionId) return { kind: 'observe', why: 'no regionId: not a region deployment' };
  if (!input.platformZones) {
    return {
      kind: 'unknown',
      reason: 'ZoneListUnavailable',
      message:
        `firstbox has no /pitrix/cli/describe-zones.py, so whether zone ${zoneId} exists cannot be told; ` +
        'the operator does not add a zone on a guess (add it by hand with runbook R4, or upgrade the installer)',
    };
  }
  const listed = input.platformZones.some((z) => z.zoneId === zoneId);
  const started = input.journal?.steps?.some((s) => s.state !== 'Pending') ?? false;
  if (listed && (!started || isComplete(input.journal)))
    return { kind: 'observe', why: `describe-zones.py lists zone ${zoneId}` };

  const violations = rules(input);
  if (violations.length > 0) return { kind: 'refuse', violations };
  const filled = filledFiles(input);
  if ('reason' in filled) return { kind: 'refuse', violations: [filled] };

  const gz = input.globalZone!;
  const globalNodes = input.platformNodes.filter((n) => n.zoneId === gz.zoneId && n.status === 'deployed');
  const webservices = globalNodes.filter((n) => n.roles.includes('webservice'));
  // The VIP holder first: the cache clear runs once, on the node serving the API.
  webservices.sort((a, b) => Number(b.vip) - Number(a.vip));
  const zoocassa = globalNodes.filter((n) => n.roles.includes('zoocassa'));
  const nodes = newZone.nodes.map((n) => n.address);
  const proxies = newZone.nodes.filter((n) => n.roles.includes('proxy')).map((n) => n.address);
  const steps = addZoneSteps(input, {
    webservices: webservices.map((w) => w.mgmtIp),
    memcached: zoocassa.map((z) => z.hostname || z.mgmtIp),
    memcachedNodes: zoocassa.map((z) => validated('IPV4', z.mgmtIp, `mgmt_ip of ${z.nodeId}`)),
    filled,
  });
  return {
    kind: 'add',
    plan: makePlan(steps),
    nodes,
    proxies,
    globalWebservices: webservices.map((w) => w.mgmtIp),
  };
}
