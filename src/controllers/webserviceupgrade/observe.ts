/**
 * What the WebserviceUpgrade reconciler sees of a zone (runbook R5), in up to three firstbox round
 * trips: the installer's node list, each target's settings (the dated backup when this upgrade took
 * it, the live file otherwise) and the recorded floating IP; then which physical hosts still keep
 * an old-N.img in /pitrix/kernels/ (what makes a rollback possible); then which webservice node
 * shows the floating IP (the VIP holder, vip.ts).
 */

import type { WebserviceUpgrade } from '../../api/webserviceupgrade.js';
import type { Zone } from '../../api/zone.js';
import { collectFirstboxFacts } from '../../facts/collector.js';
import { completeOutput, PARSED_OUTPUT } from '../../facts/complete.js';
import type { PlatformNode } from '../../facts/types.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import { seq, sh, shell } from '../../ssh/command.js';
import { parseExecNodes } from '../execnodes.js';
import type { ZoneAccess } from '../platform.js';
import { parseFloatingIp, parseNodeSettings, splitSections } from './checks.js';
import { floatingIpLocation, type NodeSettings, settingsBackupDir, settingsPath } from './installer.js';
import { targetNodes } from './order.js';
import { parseVipHolders, type VipObservation, vipProbe } from './vip.js';

export interface Observed {
  nodes: PlatformNode[];
  installerVersion: string;
  settings: Record<string, NodeSettings | undefined>;
  floatingIp?: string;
  /** Node id → old-N.img exists on its original physical host. */
  oldImages: Record<string, boolean>;
  /** Which webservice node shows the floating IP (only when one is recorded). */
  vip?: VipObservation;
}

/** Node list + settings + floating IP, then the kept images, then the VIP holder. */
export async function observeUpgrade(
  access: ZoneAccess,
  wsu: WebserviceUpgrade,
  zone: Zone,
  backupSuffix: string,
  ctx: ReconcileContext,
): Promise<Observed> {
  const facts = await collectFirstboxFacts(access.pool, access.firstbox, { signal: ctx.signal });
  const { targets } = targetNodes(wsu.spec, zone.spec.zoneId, facts.nodes);
  const backup = settingsBackupDir(backupSuffix);
  const marker = `${backup}/.pitrix-operator-${wsu.metadata.name}`;
  const loc = floatingIpLocation({
    zoneId: zone.spec.zoneId,
    global: zone.spec.global,
    installerVersion: facts.installerVersion,
  });
  const section = (name: string) => shell(['printf', '@@wsu:%s@@\\n', name], 'section');
  const cat = (file: string) => sh('read file')`cat ${file} 2>/dev/null || true`;
  const parts = [section('fip'), cat(loc.file)];
  for (const t of targets) {
    parts.push(section(`live:${t.nodeId}`), cat(settingsPath(t.nodeId)));
    parts.push(
      section(`backup:${t.nodeId}`),
      sh('read backup')`if test -f ${marker}; then cat ${`${backup}/${t.nodeId}`} 2>/dev/null; fi; true`,
    );
  }
  const out = targets.length
    ? splitSections(
        completeOutput(
          await access.pool.exec(access.firstbox, seq(parts, 'read node settings'), {
            timeoutMs: 60_000,
            signal: ctx.signal,
            ...PARSED_OUTPUT,
          }),
          'node settings',
        ),
      )
    : new Map<string, string>();
  const settings: Record<string, NodeSettings | undefined> = {};
  for (const t of targets) {
    const b = out.get(`backup:${t.nodeId}`);
    settings[t.nodeId] = parseNodeSettings(b?.trim() ? b : (out.get(`live:${t.nodeId}`) ?? ''));
  }
  const oldImages: Record<string, boolean> = {};
  const hosts = [
    ...new Set(
      targets
        .map((t) => settings[t.nodeId]?.physicalHost)
        .filter((h): h is string => !!h && /^[a-z][a-z0-9-]*$/.test(h)),
    ),
  ];
  if (hosts.length) {
    const res = await access.pool.exec(
      access.firstbox,
      shell(
        ['/pitrix/upgrade/exec_nodes.sh', '-f', hosts.join(','), 'ls /pitrix/kernels/'],
        'list kept images',
      ),
      { timeoutMs: 60_000, signal: ctx.signal, ...PARSED_OUTPUT },
    );
    const { byIp } = parseExecNodes(completeOutput(res, 'kept images'));
    for (const t of targets) {
      const ph = settings[t.nodeId]?.physicalHost;
      const ip = facts.nodes.find((n) => n.nodeId === ph)?.mgmtIp;
      // A host named twice (a forged section) has no trusted listing: no old image, so no shutdown.
      const listing = ip ? byIp.get(ip)?.text : undefined;
      oldImages[t.nodeId] = !!listing?.split(/\s+/).includes(`old-${t.nodeId}.img`);
    }
  }
  const fip = parseFloatingIp(out.get('fip'), loc.key);
  // Where the floating IP is now: the VIP holder R5 rebuilds last (vip.ts). variables.yaml (installer
  // ≥ 4.3.0) is the firstbox's own zone's: for a sub zone sharing that firstbox, the address in it
  // need not be this zone's, so the node list's flag is kept there.
  let vip: VipObservation | undefined;
  const ownAddress = zone.spec.global || loc.key === undefined;
  const webservice = facts.nodes.filter(
    (n) => n.zoneId === zone.spec.zoneId && n.roles.includes('webservice'),
  );
  if (fip && ownAddress && webservice.length > 0) {
    const res = await access.pool.exec(access.firstbox, vipProbe(webservice), {
      timeoutMs: 60_000,
      signal: ctx.signal,
      ...PARSED_OUTPUT,
    });
    vip = parseVipHolders(completeOutput(res, 'webservice addresses'), webservice, fip);
  }
  return {
    nodes: facts.nodes,
    installerVersion: facts.installerVersion,
    settings,
    ...(fip ? { floatingIp: fip } : {}),
    ...(vip ? { vip } : {}),
    oldImages,
  };
}
