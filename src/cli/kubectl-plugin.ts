/**
 * `kubectl pitrix` (the CLI installed as `kubectl-pitrix`): the operator's resources from a
 * terminal.
 *
 *   kubectl pitrix status  [KIND/NAME]          conditions, the plan with step states, the node
 *                                               a rollout is on; without a target: every resource
 *   kubectl pitrix plan    KIND/NAME            the published plan: hash, steps, hosts, commands
 *   kubectl pitrix approve KIND/NAME --hash H   approve a Manual plan: sets ops.pitrix.io/approve-plan
 *                                               to H, refused when the plan is no longer H
 *   kubectl pitrix pause   KIND/NAME            spec.paused=true (stops at the next step boundary)
 *   kubectl pitrix resume  KIND/NAME            spec.paused=false
 *
 * Flags: -n/--namespace, -A/--all-namespaces (status), --kubeconfig, --context, --commands (plan).
 * KIND is any of the kind's names: nodepool, nodepools, np, NodePool.
 */
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { APPROVE_ANNOTATION } from '../api/common.js';
import { type KindInfo, kinds } from '../api/kinds.js';
import type { Condition } from '../runtime/conditions.js';
import {
  isConflict,
  KubeClient,
  type KubeObject,
  loadKubeConfig,
  type ResourceType,
} from '../runtime/kube.js';

export const PLUGIN_USAGE = `Usage: kubectl pitrix <command> [KIND/NAME] [flags]

Commands:
  status  [KIND/NAME]         Conditions, plan steps with their state, the node a rollout is on.
                              Without KIND/NAME: every pitrix resource of the namespace (-A: all).
  plan    KIND/NAME           The published plan: hash, steps, hosts (--commands: exact commands).
  approve KIND/NAME --hash H  Approve a Manual plan. Refused when the published plan is not H
                              (it changed since you reviewed it). Without --hash: shows the plan
                              and asks for confirmation (terminal only).
  pause   KIND/NAME           Set spec.paused: the operator stops at the next step boundary.
  resume  KIND/NAME           Clear spec.paused.

Flags: -n, --namespace NS   -A, --all-namespaces   --kubeconfig PATH   --context NAME
KIND: zone (pz), nodepool (np), component (pcomp), tagserver (ts), webserviceupgrade (wsu).
`;

interface Step {
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

interface PitrixStatus {
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

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** Finds a kind by any of its names (kind, plural, singular, short names, `plural.group`). */
export function resolveKind(name: string): KindInfo | undefined {
  const n = name.toLowerCase().replace(/\.ops\.pitrix\.io$/, '');
  return kinds.find(
    (k) => k.kind.toLowerCase() === n || k.plural === n || k.singular === n || k.shortNames.includes(n),
  ) as KindInfo | undefined;
}

/** `KIND/NAME` or `KIND NAME`. */
export function parseTarget(positionals: string[]): { kind: KindInfo; name: string } {
  const [first, second] = positionals;
  if (!first) throw new UsageError('name a resource as KIND/NAME, like nodepool/hyper-b');
  const [kindName, name] = first.includes('/') ? first.split('/', 2) : [first, second];
  const kind = resolveKind(kindName!);
  if (!kind)
    throw new UsageError(
      `unknown kind "${kindName}": use zone, nodepool, component, tagserver or webserviceupgrade`,
    );
  if (!name) throw new UsageError(`name the ${kind.kind}: ${kind.singular}/NAME`);
  return { kind, name };
}

export class UsageError extends Error {
  override name = 'UsageError';
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

const typeOf = (k: KindInfo): ResourceType => ({
  group: 'ops.pitrix.io',
  version: 'v1alpha1',
  kind: k.kind,
  plural: k.plural,
});

export interface PluginDeps {
  client?: KubeClient;
  output?: Output;
  /** Answers the confirmation of `approve` without --hash; undefined when there is no terminal. */
  confirm?: (question: string) => Promise<boolean>;
}

/** Runs one plugin command; returns the exit code. */
export async function pluginCommand(command: string, argv: string[], deps: PluginDeps = {}): Promise<number> {
  const io: Output = deps.output ?? {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  };
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        hash: { type: 'string' },
        commands: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${PLUGIN_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(PLUGIN_USAGE);
    return 0;
  }
  let client = deps.client;
  let namespace = values.namespace as string | undefined;
  if (!client) {
    const kc = loadKubeConfig(values.kubeconfig as string | undefined);
    if (values.context) kc.setCurrentContext(values.context as string);
    namespace ??= kc.getContextObject(kc.getCurrentContext())?.namespace;
    client = new KubeClient(kc);
  }
  namespace ??= 'default';
  try {
    if (command === 'status' && positionals.length === 0) {
      const all = !!values['all-namespaces'];
      const objs: KubeObject[] = [];
      for (const k of kinds) {
        const { items } = await client.list(typeOf(k as KindInfo), all ? undefined : namespace);
        objs.push(...items.map((o) => ({ ...o, kind: o.kind ?? k.kind })));
      }
      io.out(formatList(objs, all));
      return 0;
    }
    const { kind, name } = parseTarget(positionals);
    const type = typeOf(kind);
    const ref = `${kind.singular}/${name}`;
    const get = async () => {
      const obj = await client.get(type, namespace, name);
      if (!obj) throw new UsageError(`${ref} not found in namespace ${namespace}`);
      return { ...obj, kind: obj.kind ?? kind.kind };
    };
    switch (command) {
      case 'status':
        io.out(formatStatus(await get()));
        return 0;
      case 'plan':
        io.out(formatPlan(await get(), { commands: !!values.commands }));
        return 0;
      case 'pause':
      case 'resume': {
        const paused = command === 'pause';
        await get();
        await client.mergePatch(type, namespace, name, { spec: { paused } });
        io.out(
          paused
            ? `${ref} paused: the operator finishes the running step, then stops (it keeps observing)\n`
            : `${ref} resumed\n`,
        );
        return 0;
      }
      case 'approve':
        return await approve(client, type, ref, get, values.hash as string | undefined, io, deps.confirm);
      default:
        io.err(`unknown command "${command}"\n\n${PLUGIN_USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`kubectl pitrix ${command}: ${err.message}\n`);
      return 2;
    }
    const body = (err as { body?: unknown }).body;
    const detail = typeof body === 'string' ? (safeJson(body)?.message ?? body) : (err as Error).message;
    io.err(`kubectl pitrix ${command}: ${detail}\n`);
    return 1;
  }
}

function safeJson(s: string): { message?: string } | undefined {
  try {
    return JSON.parse(s) as { message?: string };
  } catch {
    return undefined;
  }
}

async function approve(
  client: KubeClient,
  type: ResourceType,
  ref: string,
  get: () => Promise<KubeObject>,
  wanted: string | undefined,
  io: Output,
  confirm: PluginDeps['confirm'],
): Promise<number> {
  let obj = await get();
  const spec = obj.spec as { approval?: string } | undefined;
  if (spec?.approval !== 'Manual') {
    io.out(`${ref}: spec.approval is ${spec?.approval ?? 'Automatic'}; its plans run without approval\n`);
    return 0;
  }
  const plan = (obj.status as PitrixStatus | undefined)?.plan;
  if (!plan) {
    io.err(
      `${ref}: no plan published yet; wait for the operator to compute one (kubectl pitrix plan ${ref})\n`,
    );
    return 1;
  }
  let hash = wanted;
  if (!hash) {
    io.out(formatPlan(obj));
    if (!confirm) {
      io.err(
        `${ref}: not approved. Approve exactly the plan you reviewed: kubectl pitrix approve ${ref} --hash ${plan.hash}\n`,
      );
      return 1;
    }
    if (!(await confirm(`Approve plan ${plan.hash} (${plan.steps?.length ?? 0} steps)? [y/N] `))) {
      io.out('not approved\n');
      return 1;
    }
    hash = plan.hash;
  }
  // The resourceVersion makes the write conditional: if the operator republished the plan between
  // our read and our write, the API server answers 409 and we compare again.
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = (obj.status as PitrixStatus | undefined)?.plan;
    if (current?.hash !== hash) {
      io.err(
        `${ref}: refused: the plan changed since it was shown (you approved ${hash}, the published plan is now ${current?.hash ?? 'none'}).\n` +
          `Review it with \`kubectl pitrix plan ${ref} -n ${obj.metadata.namespace}\`, then approve its hash.\n`,
      );
      return 1;
    }
    if (obj.metadata.annotations?.[APPROVE_ANNOTATION] === hash) {
      io.out(`${ref}: plan ${hash} is already approved\n`);
      return 0;
    }
    try {
      await client.mergePatch(type, obj.metadata.namespace, obj.metadata.name, {
        metadata: {
          resourceVersion: obj.metadata.resourceVersion,
          annotations: { [APPROVE_ANNOTATION]: hash },
        },
      });
      io.out(
        `${ref}: plan ${hash} approved (${current.steps?.length ?? 0} steps); the operator runs it now\n`,
      );
      return 0;
    } catch (err) {
      if (!isConflict(err)) throw err;
      obj = await get();
    }
  }
  io.err(`${ref}: the object keeps changing; try again\n`);
  return 1;
}

/** A y/N question on the terminal, or undefined when stdin is not one. */
export function terminalConfirm(): PluginDeps['confirm'] {
  if (!process.stdin.isTTY) return undefined;
  return async (question) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  };
}
