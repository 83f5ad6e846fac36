/**
 * NodePool (runbook R4): ask the installer which of the pool's nodes it knows, observe the listed
 * ones through the firstbox (facts, host keys from its known_hosts), compute the plan with `planNodePool`
 * and hand it to the runner. Rules are enforced before anything runs; a node removed from spec is
 * reported, never scaled in.
 */

import { nodePoolKind } from '../../api/kinds.js';
import { type NodePool, type NodePoolStatus, type NodeStatus, parseNodePool } from '../../api/nodepool.js';
import type { NodeFacts } from '../../facts/types.js';
import { inFlight } from '../../runbook/journal.js';
import { type Condition, findCondition } from '../../runtime/conditions.js';
import type { ReconcileContext, Reconciler, Request, Result } from '../../runtime/controller.js';
import { type ActingKind, openActing, readyZone } from '../acting.js';
import { type ControllerDeps, resourceType } from '../deps.js';
import { classifyAccessError } from '../errors.js';
import { type ActingStatus, runPlan, type StatusSession } from '../runner.js';
import { observePool, type PoolObservation } from './observe.js';
import { planNodePool, staticViolations, type Violation } from './plan.js';

export const NODEPOOL_FINALIZER = 'ops.pitrix.io/nodepool';
const poolType = resourceType(nodePoolKind);

const nodePoolActing: ActingKind<NodePool> = {
  type: poolType,
  finalizer: NODEPOOL_FINALIZER,
  informer: (deps) => deps.informers.nodePool,
  parse: parseNodePool,
};

export class NodePoolReconciler implements Reconciler {
  constructor(private readonly deps: ControllerDeps) {}

  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result | undefined> {
    const { deps } = this;
    const opened = await openActing<NodePool, NodePoolStatus & ActingStatus>(deps, req, nodePoolActing);
    if (!opened) return undefined;
    const { previous, session, resource: pool } = opened;
    const zone = await readyZone(deps, session, req.namespace, pool.spec.zoneRef.name);
    if (!zone) return undefined;

    // Rules that need no facts are enforced before any SSH connection is opened.
    const early = staticViolations(pool.spec, zone.spec.mode);
    if (early.length > 0) return this.refuse(session, previous, early);
    // The node credentials reach establish_ssh.sh on stdin later in the plan: a Secret whose owner
    // did not consent (consent.ts) is refused now, before anything runs.
    const nodeSecret = pool.spec.nodeCredentialsSecretRef?.name;
    if (nodeSecret) {
      try {
        await deps.platform.secret(req.namespace, nodeSecret);
      } catch (err) {
        const f = classifyAccessError(err, `Secret ${req.namespace}/${nodeSecret}`);
        return this.refuse(session, previous, [{ reason: f.reason, message: f.message }]);
      }
    }

    // Observe: the installer's node list, then every listed node through the firstbox.
    let observed: PoolObservation;
    try {
      observed = await observePool(deps.platform, zone, pool, ctx.signal);
    } catch (err) {
      const failure = classifyAccessError(err, `firstbox ${zone.spec.firstbox.host}`);
      session.condition('Ready', 'False', failure.reason, failure.message);
      await session.save();
      return { requeueAfterMs: 30_000 };
    }

    const { access, platformNodes, observations, hostKeys } = observed;
    const result = planNodePool({
      poolName: pool.metadata.name,
      spec: pool.spec,
      zone: {
        zoneId: zone.spec.zoneId,
        mode: zone.spec.mode,
        installerVersion: zone.status?.installerVersion,
      },
      platformNodes,
      observations,
      previouslyDeployed: (previous.nodes ?? []).filter((n) => n.phase === 'Deployed').map((n) => n.address),
      inFlight: inFlight(previous.plan) ? previous.deploying : undefined,
      files: observed.files,
      journal: previous.plan,
    });

    const nodes: NodeStatus[] = result.nodes.map((n) => {
      const facts = observations[n.address]?.facts;
      const prev = previous.nodes?.find((p) => p.address === n.address);
      return {
        address: n.address,
        ...(n.nodeId ? { nodeId: n.nodeId } : {}),
        phase: n.phase,
        ...(n.message ? { message: n.message } : {}),
        ...(facts ? { facts: toStatusFacts(facts) } : prev?.facts ? { facts: prev.facts } : {}),
        // Facts time moves only when the facts changed: an unchanged observation writes nothing.
        ...(facts
          ? {
              collectedAt:
                prev?.facts && sameFacts(prev.facts, toStatusFacts(facts)) && prev.collectedAt
                  ? prev.collectedAt
                  : facts.collectedAt,
            }
          : prev?.collectedAt
            ? { collectedAt: prev.collectedAt }
            : {}),
        ...(hostKeys[n.address]
          ? { hostKey: hostKeys[n.address] }
          : prev?.hostKey
            ? { hostKey: prev.hostKey }
            : {}),
      };
    });
    // Kept in status so the report does not vanish with the next observation.
    for (const address of result.notInSpec) {
      const prev = previous.nodes?.find((p) => p.address === address);
      if (prev)
        nodes.push({
          ...prev,
          message: 'removed from spec.nodes; still deployed (no scale-in in the runbooks)',
        });
    }
    const deployed = nodes.filter((n) => n.phase === 'Deployed' && wantedAddress(pool, n.address)).length;
    session.status = {
      ...session.status,
      nodes,
      nodesReady: `${deployed}/${pool.spec.nodes.length}`,
      deploying: result.deploying.length > 0 ? result.deploying : undefined,
    };
    if (result.notInSpec.length === 0) {
      session.status = {
        ...session.status,
        conditions: session.status.conditions?.filter((c) => c.type !== 'ScaleInUnsupported'),
      };
    } else {
      session.condition(
        'ScaleInUnsupported',
        'True',
        'NodesNotInSpec',
        `deployed ${pool.spec.role} node(s) ${result.notInSpec.join(', ')} are not in spec.nodes; the runbooks have no scale-in, so nothing is done to them`,
      );
    }
    if (result.violations.length > 0) return this.refuse(session, previous, result.violations);

    const res = await runPlan(
      deps,
      {
        session,
        plan: result.plan,
        approval: pool.spec.approval,
        paused: () => {
          const latest = deps.informers.nodePool.get(req.namespace, req.name);
          return !!(latest?.spec as { paused?: boolean } | undefined)?.paused;
        },
        executor: access.pool,
        target: (host) =>
          host.kind === 'firstbox'
            ? access.firstbox
            : access.node(host.address, host.port ?? pool.spec.sshPort),
        zoneLock: { zoneName: zone.metadata.name, operation: 'ScaleOut' },
        stdinFor: async (step) => {
          if (!step.stdinSecret) return undefined;
          const name = step.stdinSecret.secretName;
          const data = await deps.platform.secret(req.namespace, name);
          const get = (k: string) => Buffer.from(data[k] ?? '', 'base64').toString('utf8');
          const password = get('password');
          if (!password || /[\n\r]/.test(password) || /[\n\r]/.test(get('username')))
            throw new Error(
              `Secret ${req.namespace}/${name} (spec.nodeCredentialsSecretRef) needs a one-line "password" key (and optionally "username"); fix the Secret`,
            );
          return { text: `${get('username') || 'yop'}\n${password}\n`, secrets: [password] };
        },
        readyMessage: `${deployed}/${pool.spec.nodes.length} node(s) deployed`,
        converged: () => {
          const missing = nodes
            .filter((n) => wantedAddress(pool, n.address) && n.phase !== 'Deployed')
            .map((n) => `${n.address} is ${n.phase}${n.message ? ` (${n.message})` : ''}`);
          return missing.length > 0
            ? `not every node of spec.nodes is deployed: ${missing.join('; ')}`
            : undefined;
        },
      },
      ctx,
    );
    const routes = vbcRoutesFrom(session.status.plan);
    if (routes && JSON.stringify(routes) !== JSON.stringify(session.status.vbcRoutes))
      await session.save({ vbcRoutes: routes });
    return res ?? { requeueAfterMs: 5 * 60_000 };
  }

  private async refuse(
    session: StatusSession,
    previous: ActingStatus,
    violations: Violation[],
  ): Promise<Result> {
    const message = violations.map((v) => v.message).join('; ');
    const reason = violations[0]!.reason;
    const before = findCondition(previous.conditions as Condition[] | undefined, 'Ready');
    session.condition('Ready', 'False', reason, message);
    session.condition('Progressing', 'False', reason, 'nothing runs until the spec is fixed');
    await session.save();
    if (before?.reason !== reason) this.deps.events.event(session.obj, 'Warning', reason, message);
    return { requeueAfterMs: 60_000 };
  }
}

const wantedAddress = (pool: NodePool, address: string) => pool.spec.nodes.some((n) => n.address === address);

function toStatusFacts(f: NodeFacts): NonNullable<NodeStatus['facts']> {
  return {
    cpuCores: f.cpuCores,
    arch: f.arch,
    memoryMiB: f.memoryMiB,
    osName: f.os.name,
    osVersion: f.os.version,
    kernel: f.kernel,
    disks: f.disks
      .filter((d) => d.type === 'disk')
      .map((d) => ({
        name: d.name,
        type: d.diskClass,
        sizeBytes: d.sizeBytes,
        rotational: d.rotational,
        removable: d.removable,
        ...(d.transport ? { transport: d.transport } : {}),
        ...(d.model ? { model: d.model } : {}),
      })),
    nics: f.nics.map((n) => ({ name: n.name, addresses: n.addresses })),
    ...(f.qemuVersion ? { qemuVersion: f.qemuVersion } : {}),
    packages: f.packages,
    ...(f.services ? { services: f.services.map((s) => ({ name: s.name, state: s.state })) } : {}),
  };
}

function sameFacts(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** R4.11: `ip route add CIDR via MGMT_IP  # NODE_ID` lines from the dumpVbcRoutes step's output. */
export function vbcRoutesFrom(
  plan: ActingStatus['plan'],
): Array<{ destination: string; gateway: string }> | undefined {
  const step = plan?.steps?.find((s) => s.id === 'dumpVbcRoutes' && s.state === 'Succeeded');
  if (!step?.outputTail) return undefined;
  const routes: Array<{ destination: string; gateway: string }> = [];
  for (const line of step.outputTail.split('\n')) {
    const m = /(\d+\.\d+\.\d+\.\d+\/\d+)\s+via\s+(\d+\.\d+\.\d+\.\d+)/.exec(line);
    if (m) routes.push({ destination: m[1]!, gateway: m[2]! });
  }
  return routes;
}
