/**
 * NodePool (runbook R4): ask the installer which of the pool's nodes it knows, observe the listed
 * ones through the firstbox (facts, host keys from its known_hosts), compute the plan with `planNodePool`
 * and hand it to the runner. Rules are enforced before anything runs; a node removed from spec is
 * reported, never scaled in.
 */

import { nodePoolKind } from '../../api/kinds.js';
import { type NodePool, type NodePoolStatus, type NodeStatus, parseNodePool } from '../../api/nodepool.js';
import type { NodeFacts } from '../../facts/types.js';
import type { StepInput } from '../../runbook/engine.js';
import { inFlight } from '../../runbook/journal.js';
import type { Step } from '../../runbook/step.js';
import { statusChanged } from '../../runtime/status.js';
import { type ControllerDeps, resourceType } from '../deps.js';
import { classifyAccessError } from '../errors.js';
import type { ActingStatus } from '../runner.js';
import { type RunbookHooks, zoneTarget } from '../template.js';
import { observePool, type PoolObservation } from './observe.js';
import { planNodePool, staticViolations } from './plan.js';

export const NODEPOOL_FINALIZER = 'ops.pitrix.io/nodepool';
const poolType = resourceType(nodePoolKind);

type Status = NodePoolStatus & ActingStatus;

export const nodePoolHooks: RunbookHooks<NodePool, Status, PoolObservation> = {
  acting: {
    type: poolType,
    finalizer: NODEPOOL_FINALIZER,
    informer: (deps) => deps.informers.nodePool,
    parse: parseNodePool,
  },
  zoneOf: (pool) => pool.spec.zoneRef.name,

  async preflight({ deps, req, resource: pool, zone }) {
    // Rules that need no facts are enforced before any SSH connection is opened.
    const early = staticViolations(pool.spec, zone!.spec.mode);
    if (early.length > 0) return { refuse: early };
    // The node credentials reach establish_ssh.sh on stdin later in the plan: a Secret whose owner
    // did not consent (consent.ts) is refused now, before anything runs.
    const nodeSecret = pool.spec.nodeCredentialsSecretRef?.name;
    if (!nodeSecret) return undefined;
    try {
      await deps.platform.secret(req.namespace, nodeSecret);
      return undefined;
    } catch (err) {
      const f = classifyAccessError(err, `Secret ${req.namespace}/${nodeSecret}`);
      return { refuse: [{ reason: f.reason, message: f.message }] };
    }
  },

  // The installer's node list, then every listed node through the firstbox.
  observe: ({ deps, resource, zone, ctx }) => observePool(deps.platform, zone!, resource, ctx.signal),

  decide({ deps, req, previous, session, resource: pool, zone }, observed) {
    const { access, platformNodes, observations, hostKeys } = observed;
    const z = zone!;
    const result = planNodePool({
      poolName: pool.metadata.name,
      spec: pool.spec,
      zone: { zoneId: z.spec.zoneId, mode: z.spec.mode, installerVersion: z.status?.installerVersion },
      platformNodes,
      observations,
      previouslyDeployed: (previous.nodes ?? []).filter((n) => n.phase === 'Deployed').map((n) => n.address),
      inFlight: inFlight(previous.plan) ? previous.deploying : undefined,
      files: observed.files,
      journal: previous.plan,
    });
    const nodes = nodeStatuses(result, previous, observations, hostKeys);
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
    if (result.violations.length > 0) return { refuse: result.violations };

    return {
      run: {
        plan: result.plan,
        approval: pool.spec.approval,
        executor: access.pool,
        target: zoneTarget(access, pool.spec.sshPort),
        zoneLock: { zoneName: z.metadata.name, operation: 'ScaleOut' },
        stdinFor: (step) => nodeCredentials(deps, req.namespace, step),
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
      report: async () => {
        const routes = vbcRoutesFrom(session.status.plan);
        if (routes && statusChanged(session.status.vbcRoutes, routes))
          await session.save({ vbcRoutes: routes });
        return undefined;
      },
      idleRequeueMs: 5 * 60_000,
    };
  },
};

/** R4.5: the yop account's password for establish_ssh.sh, on stdin, from the consented Secret. */
async function nodeCredentials(
  deps: ControllerDeps,
  namespace: string,
  step: Step,
): Promise<StepInput | undefined> {
  if (!step.stdinSecret) return undefined;
  const name = step.stdinSecret.secretName;
  const data = await deps.platform.secret(namespace, name);
  const get = (k: string) => Buffer.from(data[k] ?? '', 'base64').toString('utf8');
  const password = get('password');
  if (!password || /[\n\r]/.test(password) || /[\n\r]/.test(get('username')))
    throw new Error(
      `Secret ${namespace}/${name} (spec.nodeCredentialsSecretRef) needs a one-line "password" key (and optionally "username"); fix the Secret`,
    );
  return { text: `${get('username') || 'yop'}\n${password}\n`, secrets: [password] };
}

/** Each spec node's phase, facts and host key; deployed nodes removed from spec stay reported. */
function nodeStatuses(
  result: ReturnType<typeof planNodePool>,
  previous: Status,
  observations: PoolObservation['observations'],
  hostKeys: PoolObservation['hostKeys'],
): NodeStatus[] {
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
  return nodes;
}

const wantedAddress = (pool: NodePool, address: string) => pool.spec.nodes.some((n) => n.address === address);

export function toStatusFacts(f: NodeFacts): NonNullable<NodeStatus['facts']> {
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

/**
 * Key order does not count: the API server returns a custom resource's status with its keys sorted
 * (Go maps), so comparing serialisations made every resync look like new facts and write status.
 */
function sameFacts(a: unknown, b: unknown): boolean {
  return !statusChanged(a, b);
}

/** R4.11: the routes the dumpVbcRoutes step captured from its whole output (plan.ts `vbcRoutes`). */
export function vbcRoutesFrom(
  plan: ActingStatus['plan'],
): Array<{ destination: string; gateway: string }> | undefined {
  const step = plan?.steps?.find((s) => s.id === 'dumpVbcRoutes' && s.state === 'Succeeded');
  return step?.captured?.map((r) => ({ destination: r.destination ?? '', gateway: r.gateway ?? '' }));
}
