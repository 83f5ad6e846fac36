/**
 * What `kubectl pitrix` prints: pure functions from the operator's objects to terminal text (plans
 * with step states, conditions, the node a rollout is on, resource lists), so they are tested
 * without a cluster.
 */
import { APPROVE_ANNOTATION } from '../api/common.js';
import type { Condition } from '../runtime/conditions.js';
import type { KubeObject } from '../runtime/kube.js';

export interface Step {
  id: string;
  description?: string;
  host?: string;
  command?: string;
  state: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  outputTail?: string;
  attempts?: number;
}

export interface PitrixStatus {
  conditions?: Condition[];
  plan?: { hash: string; generatedAt?: string; steps?: Step[] };
  currentStep?: string;
  currentNode?: string;
  progress?: string;
  phase?: string;
  nodesReady?: string;
  observedGeneration?: number;
  nodes?: Array<{ address?: string; name?: string; phase?: string; message?: string }>;
  [k: string]: unknown;
}

const SYMBOL: Record<string, string> = {
  Succeeded: '✓',
  Running: '▶',
  Failed: '✗',
  Pending: '·',
  Skipped: '-',
};

/** "3m", "2h", "5d": how long ago `iso` was, as kubectl prints ages. */
export function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (Number.isNaN(s)) return '';
  if (s < 120) return `${s}s`;
  if (s < 2 * 3600) return `${Math.floor(s / 60)}m`;
  if (s < 2 * 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function duration(step: Step): string {
  if (!step.startedAt || !step.finishedAt) return '';
  const s = (Date.parse(step.finishedAt) - Date.parse(step.startedAt)) / 1000;
  if (Number.isNaN(s) || s < 0) return '';
  return s < 120 ? `${Math.round(s)}s` : `${Math.round(s / 60)}m`;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(rows: string[][], indent = ''): string {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, [...c].length);
    });
  }
  return rows
    .map(
      (r) =>
        indent +
        r
          .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - [...c].length)))
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}

function summary(steps: Step[]): string {
  const counts = new Map<string, number>();
  for (const s of steps) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
  const parts = ['Succeeded', 'Running', 'Failed', 'Skipped', 'Pending']
    .filter((s) => counts.get(s))
    .map((s) => `${counts.get(s)} ${s.toLowerCase()}`);
  return `${steps.length} step${steps.length === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

/** Approval state of the published plan, in words. */
export function approvalLine(obj: KubeObject): string | undefined {
  const status = (obj.status ?? {}) as PitrixStatus;
  const approval = (obj.spec as { approval?: string } | undefined)?.approval;
  if (!status.plan || !approval) return undefined;
  if (approval !== 'Manual') return `approval ${approval}`;
  const approved = obj.metadata.annotations?.[APPROVE_ANNOTATION];
  if (approved === status.plan.hash) return 'approval Manual: approved';
  return approved
    ? `approval Manual: NOT approved (the annotation approves ${approved}, an earlier plan)`
    : 'approval Manual: awaiting approval';
}

/** The plan as `kubectl pitrix plan` prints it. */
export function formatPlan(obj: KubeObject, opts: { commands?: boolean } = {}): string {
  const status = (obj.status ?? {}) as PitrixStatus;
  const plan = status.plan;
  const ref = `${obj.kind.toLowerCase()}/${obj.metadata.name}`;
  if (!plan)
    return `${ref}: no plan published yet (the operator has not observed it, or it has nothing to do)\n`;
  const steps = plan.steps ?? [];
  const lines = [
    `Plan ${plan.hash} for ${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name} (${summary(steps)})${
      plan.generatedAt ? `, computed ${age(plan.generatedAt)} ago` : ''
    }`,
  ];
  const approval = approvalLine(obj);
  if (approval) lines.push(approval);
  if (steps.length === 0) lines.push('  nothing to do');
  steps.forEach((s, i) => {
    lines.push(
      `  ${String(i + 1).padStart(2)}. ${SYMBOL[s.state] ?? '?'} ${s.id}  on ${s.host ?? 'firstbox'}  [${s.state}]`,
    );
    if (s.description) lines.push(`      ${s.description}`);
    if (opts.commands && s.command) lines.push(...s.command.split('\n').map((l) => `      $ ${l}`));
  });
  const spec = obj.spec as { approval?: string } | undefined;
  if (spec?.approval === 'Manual' && obj.metadata.annotations?.[APPROVE_ANNOTATION] !== plan.hash)
    lines.push(
      '',
      `Approve exactly this plan: kubectl pitrix approve ${ref} --hash ${plan.hash} -n ${obj.metadata.namespace}`,
    );
  return `${lines.join('\n')}\n`;
}

/** The full status as `kubectl pitrix status KIND/NAME` prints it. */
export function formatStatus(obj: KubeObject, now = Date.now()): string {
  const status = (obj.status ?? {}) as PitrixStatus;
  const spec = (obj.spec ?? {}) as { paused?: boolean; approval?: string };
  const out: string[] = [];
  const gen = obj.metadata.generation;
  out.push(
    `${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name}` +
      (gen !== undefined
        ? `  (generation ${gen}${status.observedGeneration !== undefined ? `, observed ${status.observedGeneration}` : ''})`
        : '') +
      (spec.paused ? '  PAUSED' : '') +
      (obj.metadata.deletionTimestamp ? '  DELETING' : ''),
  );
  const facts = [
    status.phase ? `Phase: ${status.phase}` : '',
    status.progress ? `Progress: ${status.progress}` : '',
    status.nodesReady ? `Nodes ready: ${status.nodesReady}` : '',
  ].filter(Boolean);
  if (facts.length) out.push(facts.join('   '));

  out.push('', 'Conditions:');
  const conds = status.conditions ?? [];
  if (conds.length === 0) out.push('  (none yet: the operator has not reconciled it)');
  else
    out.push(
      table(
        [
          ['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'],
          ...conds.map((c) => [
            c.type,
            c.status,
            c.reason ?? '',
            age(c.lastTransitionTime, now),
            oneLine(c.message ?? ''),
          ]),
        ],
        '  ',
      ),
    );

  const steps = status.plan?.steps ?? [];
  if (status.plan) {
    const approval = approvalLine(obj);
    out.push('', `Plan ${status.plan.hash} (${summary(steps)})${approval ? `, ${approval}` : ''}:`);
    if (steps.length === 0) out.push('  nothing to do');
    else
      out.push(
        table(
          steps.map((s) => [
            `${SYMBOL[s.state] ?? '?'} ${s.id}`,
            s.state,
            s.host ?? 'firstbox',
            s.state === 'Running' ? `running ${age(s.startedAt, now)}` : duration(s),
            (s.description ?? '').slice(0, 80),
          ]),
          '  ',
        ),
      );
    for (const s of steps.filter((x) => x.state === 'Failed' || (x.state === 'Running' && x.outputTail))) {
      const tail = (s.outputTail ?? '').trimEnd().split('\n').slice(-6);
      out.push(
        '',
        `  ${s.id} on ${s.host ?? 'firstbox'}${s.exitCode !== undefined ? ` (exit ${s.exitCode})` : ''}:`,
      );
      out.push(...tail.map((l) => `    | ${l}`));
    }
  }
  const running = steps.find((s) => s.state === 'Running');
  if (status.currentStep) out.push('', `Current step: ${status.currentStep}`);
  const node = currentNode(status, running);
  if (node) out.push(`Current node: ${node}`);

  if (status.nodes?.length) {
    out.push('', 'Nodes:');
    out.push(
      table(
        [
          ['NODE', 'PHASE', 'MESSAGE'],
          ...status.nodes.map((n) => [n.name ?? n.address ?? '?', n.phase ?? '', oneLine(n.message ?? '')]),
        ],
        '  ',
      ),
    );
  }
  if (
    spec.approval === 'Manual' &&
    status.plan &&
    steps.some((s) => s.state !== 'Succeeded' && s.state !== 'Skipped')
  ) {
    if (obj.metadata.annotations?.[APPROVE_ANNOTATION] !== status.plan.hash)
      out.push(
        '',
        `Review: kubectl pitrix plan ${obj.kind.toLowerCase()}/${obj.metadata.name} -n ${obj.metadata.namespace}`,
      );
  }
  return `${out.join('\n')}\n`;
}

/** The node a rollout is on: status.currentNode, else the node the running step runs on. */
function currentNode(status: PitrixStatus, running: Step | undefined): string | undefined {
  if (status.currentNode) return status.currentNode;
  if (running?.host && running.host !== 'firstbox') return running.host;
  const inFlight = status.nodes?.find((n) => n.phase && /ing$/.test(n.phase) && n.phase !== 'Pending');
  return inFlight ? (inFlight.name ?? inFlight.address) : undefined;
}

function oneLine(s: string): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** One line per resource, as `kubectl pitrix status` prints the namespace. */
export function formatList(objs: KubeObject[], allNamespaces: boolean): string {
  if (objs.length === 0) return 'No pitrix resources found.\n';
  const rows = [[...(allNamespaces ? ['NAMESPACE'] : []), 'RESOURCE', 'READY', 'REASON', 'STEP', 'PLAN']];
  for (const o of objs) {
    const st = (o.status ?? {}) as PitrixStatus;
    const ready = st.conditions?.find((c) => c.type === 'Ready');
    const steps = st.plan?.steps ?? [];
    const done = steps.filter((s) => s.state === 'Succeeded' || s.state === 'Skipped').length;
    rows.push([
      ...(allNamespaces ? [o.metadata.namespace] : []),
      `${o.kind.toLowerCase()}/${o.metadata.name}`,
      ready?.status ?? 'Unknown',
      ready?.reason ?? '',
      st.currentStep ?? '',
      st.plan ? `${done}/${steps.length}` : '',
    ]);
  }
  return `${table(rows)}\n`;
}
