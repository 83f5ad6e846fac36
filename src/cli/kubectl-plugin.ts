/**
 * `kubectl pitrix` (the CLI installed as `kubectl-pitrix`): the operator's resources from a
 * terminal.
 *
 *   kubectl pitrix status  [KIND/NAME]          conditions, the plan with step states, the node
 *                                               a rollout is on; without a target: every resource;
 *                                               -w/--watch: live progress until Ready or Stalled
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
import {
  isConflict,
  KubeClient,
  type KubeObject,
  loadKubeConfig,
  PLUGIN_FIELD_MANAGER,
  type ResourceType,
} from '../runtime/kube.js';
import { formatList, formatPlan, formatStatus, type PitrixStatus } from './kubectl-plugin-format.js';
import { watchStatus } from './kubectl-plugin-watch.js';
import { terminalSafeOutput } from './terminal-safe.js';

export const PLUGIN_USAGE = `Usage: kubectl pitrix <command> [KIND/NAME] [flags]

Commands:
  status  [KIND/NAME]         Conditions, plan steps with their state, the node a rollout is on.
                              Without KIND/NAME: every pitrix resource of the namespace (-A: all).
          KIND/NAME -w        Watch the plan's progress until the resource is Ready (exit 0) or
                              Stalled (exit 1); redrawn in place on a terminal, else one line
                              per change.
  plan    KIND/NAME           The published plan: hash, steps, hosts (--commands: exact commands).
  approve KIND/NAME --hash H  Approve a Manual plan. Refused when the published plan is not H
                              (it changed since you reviewed it). Without --hash: shows the plan
                              and asks for confirmation (terminal only).
  pause   KIND/NAME           Set spec.paused: the operator stops at the next step boundary.
  resume  KIND/NAME           Clear spec.paused.

Flags: -n, --namespace NS   -A, --all-namespaces   --kubeconfig PATH   --context NAME
KIND: zone (pz), nodepool (np), component (pcomp), tagserver (ts), webserviceupgrade (wsu).
`;

export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** The plugin's own terminal control sequences (status --watch); defaults to `out` unfiltered. */
  control?(sequence: string): void;
  /** Columns of the terminal stdout is, undefined when it is not one. */
  columns?: number;
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
  // Remote output reaches the terminal only with its control characters made visible.
  const raw: Output = deps.output ?? {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    ...(process.stdout.isTTY ? { columns: process.stdout.columns } : {}),
  };
  const io: Output = terminalSafeOutput(raw);
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
        watch: { type: 'boolean', short: 'w' },
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
    client = new KubeClient(kc, PLUGIN_FIELD_MANAGER);
  }
  namespace ??= 'default';
  try {
    if (command === 'status' && positionals.length === 0 && values.watch)
      throw new UsageError('--watch follows one resource: name it as KIND/NAME, like nodepool/hyper-b');
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
        if (values.watch) {
          await get();
          const read = async () => {
            const obj = await client.get(type, namespace, name);
            return obj ? { ...obj, kind: obj.kind ?? kind.kind } : undefined;
          };
          const control = raw.control ?? ((t: string) => raw.out(t));
          return await watchStatus(read, { out: io.out, err: io.err, control, columns: raw.columns });
        }
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
