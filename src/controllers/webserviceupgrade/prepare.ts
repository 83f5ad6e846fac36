/**
 * Runbook R5 "Prepare once": the steps that run before the first node and never again: the dated
 * settings backup, each node's files kept on firstbox, the floating IP recorded when the spec brings
 * one, and the access (and, global zone, console) keys refreshed from a node's backup.
 */
import type { WebserviceUpgradeSpec } from '../../api/webserviceupgrade.js';
import { forNode, type Step } from '../../runbook/step.js';
import { and, sh, shell, validated } from '../../ssh/command.js';
import {
  floatingIpLocation,
  KEYS_DIR,
  nodeBackupDir,
  settingsBackupDir,
  type UpgradeZoneView,
} from './installer.js';
import type { PlannedNode } from './order.js';

const MIN = 60_000;

// A constant program: file paths and the zone kind arrive as argv; values never printed.
const REFRESH_KEYS_PY = [
  'import os, re, sys',
  'kind, client, console, keys = sys.argv[1:5]',
  'os.makedirs(keys, exist_ok=True)',
  'def read(path, names):',
  '    text = open(path).read()',
  '    out = {}',
  '    for n in names:',
  '        m = re.search(r"^\\s*%s\\s*[:=]\\s*[\'\\"]?([^\'\\"\\s]+)" % re.escape(n), text, re.M)',
  '        if not m:',
  '            sys.exit("%s: %s not found" % (path, n))',
  '        out[n] = m.group(1)',
  '    return out',
  'def put(name, value):',
  '    p = os.path.join(keys, name)',
  '    fd = os.open(p + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)',
  '    os.write(fd, value.encode())',
  '    os.close(fd)',
  '    os.rename(p + ".tmp", p)',
  '    print("refreshed " + p)',
  'c = read(client, ["qy_access_key_id", "qy_secret_access_key"])',
  'put(".access_key_id", c["qy_access_key_id"])',
  'put(".access_secret_key", c["qy_secret_access_key"])',
  'if kind == "global":',
  '    w = read(console, ["console_key_id", "console_secrect_key"])',
  '    put(".console_key_id", w["console_key_id"])',
  '    put(".console_secret_key", w["console_secrect_key"])',
].join('\n');

export function preparationSteps(input: {
  /** The validated metadata.name of the upgrade. */
  upgrade: string;
  zone: UpgradeZoneView;
  planned: readonly PlannedNode[];
  backupSuffix: string;
  spec: WebserviceUpgradeSpec;
  /** The zone's recorded webservice_floating_ip, if any. */
  floatingIp?: string | undefined;
}): Step[] {
  const { upgrade, zone, planned, spec } = input;
  const fb = { kind: 'firstbox' } as const;
  const steps: Step[] = [];
  const backup = settingsBackupDir(validated('OS_VERSION', input.backupSuffix, 'backup date'));
  const backupMarker = `${backup}/.pitrix-operator-${upgrade}`;

  // seed 004 line 13: "On firstbox, prepare in advance the base image of the new OS and the
  // corresponding software repository". Where is not said; the spec names both (planUpgrade
  // refuses without them) and this read-only check runs before any node is touched.
  const image = validated('FIRSTBOX_PATH', spec.target.baseImage ?? '', 'spec.target.baseImage');
  const repo = validated('FIRSTBOX_PATH', spec.target.repository ?? '', 'spec.target.repository');
  steps.push({
    id: 'checkBaseImage',
    description: `R5 precondition: the ${spec.target.osName} ${spec.target.osVersion} base image ${image} and repository ${repo} are prepared on firstbox`,
    host: fb,
    command: sh(
      'check base image and repository',
    )`test -s ${image} || { echo ${`base image ${image} is missing or empty on firstbox: prepare it before the rebuild (runbook R5)`} >&2; exit 1; }; test -d ${repo} && test -n "$(ls -A ${repo})" || { echo ${`repository ${repo} is missing or empty on firstbox: prepare it before the rebuild (runbook R5)`} >&2; exit 1; }; echo ${`base image ${image} and repository ${repo} present`}`,
    idempotent: true,
    timeoutMs: MIN,
  });
  steps.push({
    id: 'backupSettings',
    description: `R5 prep: dated backup of /pitrix/conf/settings to ${backup}`,
    host: fb,
    command: sh(
      'back up settings',
    )`mkdir -p ${backup} && cp -a /pitrix/conf/settings/. ${backup}/ && touch ${backupMarker}`,
    check: shell(['test', '-f', backupMarker], 'settings backup taken?'),
    timeoutMs: 5 * MIN,
  });
  for (const n of planned) {
    const dir = nodeBackupDir(n.name, upgrade);
    const copies = [
      `${n.name}:/etc/rc.local*`,
      `${n.name}:/pitrix/lib/pitrix-webconsole/static`,
      `${n.name}:/pitrix/lib/pitrix-webconsole/mysite/local_config.yaml`,
      `${n.name}:/pitrix/conf/client.yaml`,
      ...(zone.global ? [`${n.name}:/pitrix/conf/web_console_settings.py`] : []),
    ].map((src) => shell(['rsync', '-azPS', src, `${dir}/`], `back up ${src}`));
    steps.push({
      ...forNode('backupNode', n.name),
      description: `R5 prep: back up rc.local*, the console static dir (logo), local_config.yaml and keys of ${n.name} to firstbox ${dir}`,
      host: fb,
      command: and(
        [
          shell(['mkdir', '-p', dir], 'make backup dir'),
          ...copies,
          shell(['touch', `${dir}/.complete`], 'mark backup'),
        ],
        `back up ${n.name}`,
      ),
      check: shell(['test', '-f', `${dir}/.complete`], 'node backup taken?'),
      timeoutMs: 10 * MIN,
    });
  }
  if (spec.floatingIP && !input.floatingIp) {
    const ip = validated('IPV4', spec.floatingIP, 'spec.floatingIP');
    const loc = floatingIpLocation(zone);
    const line = loc.key ? `${loc.key}: ${ip}` : ip;
    steps.push({
      id: 'assignFloatingIp',
      description: `R5 prep: record webservice_floating_ip ${ip} in ${loc.file} (installer ${zone.installerVersion}${loc.key ? ' ≥' : ' <'} 4.3.0)`,
      host: fb,
      command: loc.key
        ? sh(
            'record floating ip',
          )`mkdir -p /pitrix/conf/variables && touch ${loc.file} && sed -i '/^webservice_floating_ip:/d' ${loc.file} && printf '%s\\n' ${line} >> ${loc.file}`
        : sh('record floating ip')`mkdir -p /pitrix/conf/variables && printf '%s\\n' ${line} > ${loc.file}`,
      // A file not there yet is "not done" (1), not an unknown answer (grep's 2).
      check: sh(
        'floating ip recorded?',
      )`if test -e ${loc.file}; then grep -qxF ${line} ${loc.file}; else false; fi`,
      timeoutMs: MIN,
    });
  }
  // Independent of the order (which follows the VIP), so a re-plan never changes this step.
  const first = [...planned].sort((a, b) => a.name.localeCompare(b.name))[0]!;
  const firstBackup = nodeBackupDir(first.name, upgrade);
  steps.push({
    id: 'refreshKeys',
    description: zone.global
      ? `R5 prep (global zone): refresh access and console keys in ${KEYS_DIR} from ${first.name}'s client.yaml and web_console_settings.py`
      : `R5 prep (sub zone): refresh access keys in ${KEYS_DIR} from ${first.name}'s client.yaml`,
    host: fb,
    command: shell(
      [
        'python3',
        '-c',
        REFRESH_KEYS_PY,
        zone.global ? 'global' : 'sub',
        `${firstBackup}/client.yaml`,
        `${firstBackup}/web_console_settings.py`,
        KEYS_DIR,
      ],
      'refresh keys',
    ),
    idempotent: true,
    timeoutMs: MIN,
  });
  return steps;
}
