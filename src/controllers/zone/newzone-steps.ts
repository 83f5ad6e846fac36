/**
 * R4 new zone: the ordered steps. Everything runs on the firstbox; nodes are reached with the
 * installer's own `exec_nodes.sh IP 'COMMAND'` (seed 003 §3). Pure.
 */
import { HOUR, MIN } from '../../runbook/durations.js';
import { guardedStep } from '../../runbook/jobguard.js';
import { forSubject, type Step } from '../../runbook/step.js';
import { and, or, sh, shell, validated } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import { listNewNodesStep, writeNodeListStep } from '../nodelist.js';
import { checks } from '../nodepool/checks.js';
import { copyAndFillSteps, SETTINGS_TEMPLATE, VARIABLES_TEMPLATE } from '../templatefill.js';
import { renderListeners, settingsFills, variablesFills } from './newzone-files.js';
import {
  BLOCK_BEGIN,
  BLOCK_END,
  CACHE_PATTERN,
  EXEC_NODES,
  HAPROXY_CFG,
  MEMCACHED_PORT,
  type NewZonePlanInput,
  newZoneListPath,
  OPERATE_CACHE,
  settingsPath,
  variablesPath,
} from './newzone-input.js';

/** `exec_nodes.sh IP 'COMMAND'`: the installer's own reach into a node, from the firstbox. */
function onNode(ip: string, inner: ShellCommand, purpose: string): ShellCommand {
  return shell([EXEC_NODES, ip, inner.script], purpose);
}

// Constant programs (no interpolation): values arrive as argv.
const ZONE_LISTED_PY = [
  'import json, sys',
  'text = sys.stdin.read()',
  'try:',
  "    doc = json.loads(text[text.index('{'):])",
  "    zones = doc['zone_set']",
  'except Exception as e:',
  "    sys.stderr.write('describe-zones.py output not understood: %r\\n' % (e,))",
  '    sys.exit(2)',
  "sys.exit(0 if any(z.get('zone_id') == sys.argv[1] for z in zones) else 1)",
].join('\n');
const AWK_STRIP = '$0==b{s=1} !s{print} $0==e{s=0}';
const AWK_BLOCK = '$0==b{s=1} s{print} $0==e{s=0}';
const AWK_FOREIGN =
  '$0==b{s=1} !s && /^listen[ \\t]+(api|ws|io)-front([ \\t]|$)/{f=1} $0==e{s=0} END{exit !f}';

function zoneListed(zoneId: string): ShellCommand {
  return sh(
    'zone listed?',
  )`out=$(/pitrix/cli/describe-zones.py -f json) || exit 2; printf '%s\n' "$out" | python3 -c ${ZONE_LISTED_PY} ${zoneId}`;
}

/** 0 when the zone is listed and every machine deployed, 1 when not, 2 when either answer is unreadable. */
function scaleZoneDone(zoneId: string, ips: readonly string[]): ShellCommand {
  const deployed = checks.nodesInStatus(ips, ['deployed'], 'nodes deployed?');
  return sh(
    'zone added?',
  )`${zoneListed(zoneId)}; z=$?; [ $z -le 1 ] || exit 2; ${deployed}; d=$?; [ $d -le 1 ] || exit 2; [ $z = 0 ] && [ $d = 0 ]`;
}

function verifyAvailable(stdout: string, ips: readonly string[]): string | undefined {
  let listed: Set<string>;
  try {
    const doc = JSON.parse(stdout.slice(Math.max(0, stdout.indexOf('{')))) as {
      node_set?: Array<{ mgmt_ip?: string }>;
    };
    listed = new Set((doc.node_set ?? []).map((n) => n.mgmt_ip ?? ''));
  } catch (err) {
    return `describe-nodes output unreadable: ${(err as Error).message}`;
  }
  const missing = ips.filter((ip) => !listed.has(ip));
  return missing.length ? `not listed as available after collection: ${missing.join(', ')}` : undefined;
}

export function addZoneSteps(
  input: NewZonePlanInput,
  g: {
    webservices: string[];
    memcached: string[];
    memcachedNodes: string[];
    filled: { variables: string; settings: string };
  },
): Step[] {
  const { newZone } = input;
  const zoneId = validated('ZONE_ID', input.zoneId, 'spec.zoneId');
  const regionId = validated('ZONE_ID', input.regionId ?? '', 'spec.regionId');
  const gz = input.globalZone!;
  const ips = newZone.nodes.map((n, i) => validated('HOST', n.address, `spec.newZone.nodes[${i}].address`));
  const list = newZoneListPath(zoneId);
  const vars = variablesPath(zoneId);
  const settings = settingsPath(zoneId);
  const fb = { kind: 'firstbox' } as const;
  const steps: Step[] = [];
  const listText = `${ips.join('\n')}\n`;
  const R = `R4 new zone ${zoneId} in region ${regionId}:`;

  steps.push(writeNodeListStep(list, ips, `${R} write the ${ips.length} machine address(es) to ${list}`));
  steps.push({
    id: 'addNodes',
    description: `${R} add the machines to the installer in zone ${zoneId} (add-nodes.py -z)`,
    host: fb,
    command: shell(['/pitrix/cli/add-nodes.py', '-I', list, '-z', zoneId], 'add nodes'),
    check: checks.nodesInStatus(ips, ['new', 'collected', 'available', 'deployed'], 'nodes already added?'),
    timeoutMs: 10 * MIN,
  });
  // 003 line 165, as in the scale-out: "view the newly added nodes".
  steps.push(
    listNewNodesStep(
      ips,
      input.platformNodes,
      `${R} view the newly added machines (describe-nodes.py -s new): each is listed as new`,
    ),
  );
  steps.push(
    guardedStep(
      {
        id: 'collectNodes',
        description: `${R} collect hardware facts (collect-nodes.py); never re-run after deployment`,
        host: fb,
        command: shell(['/pitrix/cli/collect-nodes.py', '-I', list], 'collect nodes'),
        check: checks.nodesInStatus(ips, ['collected', 'available', 'deployed'], 'nodes already collected?'),
        timeoutMs: HOUR,
      },
      { lockScope: zoneId, inputs: [listText] },
    ),
  );
  steps.push({
    id: 'verifyNodes',
    description: `${R} verify the collected facts (describe-nodes.py -s available)`,
    host: fb,
    command: shell(
      ['/pitrix/cli/describe-nodes.py', '-s', 'available', '-f', 'json'],
      'describe available nodes',
    ),
    check: checks.nodesInStatus(ips, ['deployed'], 'nodes already deployed?'),
    verify: (stdout) => verifyAvailable(stdout, ips),
    timeoutMs: 5 * MIN,
    readOnly: true,
  });
  const varsText = g.filled.variables;
  const settingsText = g.filled.settings;
  steps.push(
    ...copyAndFillSteps({
      name: 'Variables',
      R,
      template: VARIABLES_TEMPLATE,
      templateText: input.files![VARIABLES_TEMPLATE]!.text!,
      target: vars,
      filled: varsText,
      journal: input.journal,
      keys: variablesFills(input).map((f) => f.key),
    }),
    ...copyAndFillSteps({
      name: 'Settings',
      R,
      template: SETTINGS_TEMPLATE,
      templateText: input.files![SETTINGS_TEMPLATE]!.text!,
      target: settings,
      filled: settingsText,
      journal: input.journal,
      keys: [...new Set(settingsFills(input).map((f) => (f.sub ? `${f.key}.${f.sub.join('.')}` : f.key)))],
    }),
  );
  steps.push(
    guardedStep(
      {
        id: 'configQingcloud',
        description: `${R} configure the zone (config-qingcloud.py -v variables -s settings)`,
        host: fb,
        command: shell(
          ['/pitrix/cli/config-qingcloud.py', '-v', vars, '-s', settings],
          'configure the new zone',
        ),
        check: zoneListed(zoneId),
        timeoutMs: HOUR,
      },
      { lockScope: zoneId, inputs: [varsText, settingsText, listText] },
    ),
  );
  steps.push(
    guardedStep(
      {
        id: 'scaleQingcloudZone',
        description: `${R} deploy the zone (scale-qingcloud-zone.py -z ${zoneId}); long`,
        host: fb,
        command: shell(
          ['/pitrix/cli/scale-qingcloud-zone.py', '-z', zoneId, '-I', list],
          'deploy the new zone',
        ),
        check: scaleZoneDone(zoneId, ips),
        timeoutMs: 6 * HOUR,
      },
      { lockScope: zoneId, inputs: [varsText, settingsText, listText] },
    ),
  );

  const [cacheNode] = g.webservices;
  const servers = g.memcached.map((h) => `${h}:${MEMCACHED_PORT}`).join(';');
  const clear = onNode(
    cacheNode!,
    shell([OPERATE_CACHE, '-S', servers, '-A', 'delete', '-P', CACHE_PATTERN, '-F'], 'clear the zone cache'),
    `clear the zone cache on global webservice ${cacheNode}`,
  );
  // The original's fallback: "you can try restarting the global memcached service" (console logins
  // falter briefly). ASSUMPTION: memcached runs on the global zoocassa nodes (the -S servers) as the
  // init service `memcached`; restarted one at a time, each checked running before the next.
  const restarts = g.memcachedNodes.map((z) =>
    onNode(
      z,
      and([
        shell(['service', 'memcached', 'restart'], 'restart memcached'),
        shell(['service', 'memcached', 'status'], 'check memcached'),
      ]),
      `restart memcached on global zoocassa ${z}`,
    ),
  );
  const fallback = sh(
    'report the failed cache clear',
  )`echo 'operate_cache_by_re failed: restarting the global memcached service (runbook R4 fallback)' >&2`;
  steps.push({
    id: 'clearZoneCache',
    description: `${R} clear the zone cache in memcache on global webservice ${cacheNode} (operate_cache_by_re -A delete -P ${CACHE_PATTERN}); if that fails, restart memcached on the global zoocassa nodes one at a time`,
    host: fb,
    command: or([clear, and([fallback, ...restarts])]),
    idempotent: true,
    timeoutMs: 10 * MIN,
  });
  for (const ws of g.webservices) {
    steps.push({
      ...forSubject('restartGlobalServices', ws),
      description: `${R} restart ws_server and billing_resource on global webservice ${ws}, then check they run (one node at a time)`,
      host: fb,
      command: onNode(
        ws,
        and([
          shell(['supervisorctl', 'restart', 'ws_server', 'billing_resource'], 'restart'),
          shell(['supervisorctl', 'status', 'ws_server', 'billing_resource'], 'check'),
        ]),
        `restart ws_server billing_resource on global webservice ${ws}`,
      ),
      idempotent: true,
      timeoutMs: 10 * MIN,
    });
  }

  const block = renderListeners(g.webservices, newZone.globalApiProtocol, gz.zoneId);
  for (const proxy of newZone.nodes.filter((n) => n.roles.includes('proxy'))) {
    const ip = validated('HOST', proxy.address, 'spec.newZone.nodes[].address');
    const write = sh(
      'add the region listeners',
    )`f=${HAPROXY_CFG}; if [ ! -f "$f" ]; then echo "$f not found: is haproxy deployed on this proxy?" >&2; exit 1; fi; if awk -v b=${BLOCK_BEGIN} -v e=${BLOCK_END} ${AWK_FOREIGN} "$f"; then echo "$f already defines api-front/ws-front/io-front outside the operator's block; merge them by hand (runbook R4)" >&2; exit 1; fi; [ -f "$f.pre-operator" ] || cp -p "$f" "$f.pre-operator"; awk -v b=${BLOCK_BEGIN} -v e=${BLOCK_END} ${AWK_STRIP} "$f" > "$f.operator-new" && printf '%s' ${block} >> "$f.operator-new" && mv "$f.operator-new" "$f"`;
    const present = sh(
      'listeners already there?',
    )`[ "$(awk -v b=${BLOCK_BEGIN} -v e=${BLOCK_END} ${AWK_BLOCK} ${HAPROXY_CFG})" = "$(printf '%s' ${block})" ]`;
    steps.push({
      ...forSubject('haproxyListeners', ip),
      description: `${R} add haproxy listeners api-front (7777 → global webservices :${newZone.globalApiProtocol === 'https' ? 443 : 7777}), ws-front (8565), io-front (8000) on proxy ${ip}`,
      host: fb,
      command: onNode(ip, write, `add haproxy listeners on proxy ${ip}`),
      check: onNode(ip, present, `haproxy listeners already on proxy ${ip}?`),
      timeoutMs: 5 * MIN,
    });
    steps.push({
      ...forSubject('restartHaproxy', ip),
      description: `${R} restart haproxy on proxy ${ip} and check it runs before the next proxy`,
      host: fb,
      command: onNode(
        ip,
        and([
          shell(['service', 'haproxy', 'restart'], 'restart'),
          shell(['service', 'haproxy', 'status'], 'check'),
        ]),
        `restart haproxy on proxy ${ip}`,
      ),
      idempotent: true,
      timeoutMs: 5 * MIN,
    });
  }
  return steps;
}
