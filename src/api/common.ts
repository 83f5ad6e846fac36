/**
 * Building blocks shared by the five kinds: field helpers that keep the zod schema, the runtime
 * validation and the CRD's openAPIV3Schema in one place, plus the shared spec/status shapes
 * (references, conditions, plans).
 */
import { z } from 'zod';
import { type PatternName, patterns } from './patterns.js';

export const GROUP = 'ops.pitrix.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
/** Annotation whose value must equal `status.plan.hash` before a Manual plan runs. */
export const APPROVE_ANNOTATION = `${GROUP}/approve-plan`;

/** Describes a schema; the text becomes the field's `kubectl explain` description. */
export function d<S extends z.ZodType>(schema: S, description: string): S {
  return schema.meta({ description });
}

/**
 * A string restricted to one of the safe patterns. The pattern text goes to the CRD verbatim
 * (RegExp.source would escape `/`, and the API server echoes the pattern in its errors).
 */
export function pattern(name: PatternName, maxLength: number) {
  const src = patterns[name];
  const re = new RegExp(src.startsWith('^') ? src : `^(${src})$`);
  return z
    .string()
    .max(maxLength, { message: `must be at most ${maxLength} characters` })
    .regex(re, { message: `must match '${src}'` })
    .meta({ pattern: src });
}

/** A bounded free-text string (bounds keep the CEL cost estimator and etcd object size sane). */
export function text(maxLength: number) {
  return z.string().max(maxLength, { message: `must be at most ${maxLength} characters` });
}

/** RFC 3339 timestamp as the API server writes it; kept a plain string so clocks never fail a parse. */
export const timestamp = () => text(64).meta({ format: 'date-time' });

/** Integer without zod's safe-integer bounds leaking into the CRD. */
export const int = () => z.int();

export type Reason =
  | 'FieldValueInvalid'
  | 'FieldValueRequired'
  | 'FieldValueForbidden'
  | 'FieldValueDuplicate';

/** A CEL rule the API server enforces, with its runtime mirror for objects the operator reads. */
export interface Rule<T> {
  rule: string;
  message: string;
  /** Relative JSON path (`.eips`) the error is reported at, so messages name the field. */
  fieldPath?: string;
  reason?: Reason;
  /** Same predicate in TypeScript. Omitted for transition rules, which need `oldSelf`. */
  check?: (value: T) => boolean;
}

/** Attaches CEL rules (to the CRD) and their mirrors (to runtime parsing) to a schema. */
export function withRules<S extends z.ZodType>(schema: S, rules: Rule<z.output<S>>[]): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const r of rules) {
      if (r.check && !r.check(value as z.output<S>)) {
        const path = r.fieldPath ? r.fieldPath.replace(/^\./, '').split('.') : [];
        ctx.addIssue({ code: 'custom', message: r.message, path });
      }
    }
  });
  return refined.meta({
    'x-kubernetes-validations': rules.map(({ check: _check, ...cel }) => cel),
  }) as S;
}

/** A CEL rule making a field immutable once set (create may set it freely). */
export function immutable(what: string): Rule<unknown> {
  return { rule: 'self == oldSelf', message: `${what} is immutable` };
}

/**
 * List semantics for server-side apply; the API server also refuses duplicates in both kinds of
 * list, and the runtime mirror does the same.
 */
export function listSet<S extends z.ZodType>(schema: S): S {
  return uniqueBy(schema, (item) => JSON.stringify(item)).meta({ 'x-kubernetes-list-type': 'set' }) as S;
}
export function listMap<S extends z.ZodType>(schema: S, keys: string[]): S {
  const key = (item: unknown) => JSON.stringify(keys.map((k) => (item as Record<string, unknown>)[k]));
  return uniqueBy(schema, key).meta({
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': keys,
  }) as S;
}
/**
 * A status list only the operator writes (the journal's steps, a pool's nodes): unique by `keys`
 * at runtime like `listMap`, but `x-kubernetes-list-type: atomic` in the CRD, so server-side field
 * tracking records the list as one field instead of every field of every item. Measured
 * (`npm run bench -- status-write`, 200 steps): a list-map journal carried 37 KiB of
 * `managedFields` and a status PUT cost 2.3× the atomic one; nobody else applies these lists, so
 * per-item ownership buys nothing. The API server no longer refuses duplicate keys here: the
 * operator builds these lists itself (plan step ids are unique by construction, makePlan).
 */
export function statusList<S extends z.ZodType>(schema: S, keys: string[]): S {
  const key = (item: unknown) => JSON.stringify(keys.map((k) => (item as Record<string, unknown>)[k]));
  return uniqueBy(schema, key).meta({ 'x-kubernetes-list-type': 'atomic' }) as S;
}
function uniqueBy<S extends z.ZodType>(schema: S, key: (item: unknown) => string): S {
  return schema.superRefine((value, ctx) => {
    if (!Array.isArray(value)) return;
    const seen = new Set<string>();
    value.forEach((item, i) => {
      const k = key(item);
      if (seen.has(k)) ctx.addIssue({ code: 'custom', message: `duplicate value ${k}`, path: [i] });
      seen.add(k);
    });
  }) as S;
}

/** Object kept as written: the API server does not prune unknown fields below it. */
export function freeForm<S extends z.ZodType>(schema: S): S {
  return schema.meta({ 'x-kubernetes-preserve-unknown-fields': true });
}

// ---- references ---------------------------------------------------------------------------

export const k8sName = () => pattern('K8S_NAME', 253);

export const ZoneRef = d(
  z.object({ name: d(k8sName(), 'Name of the Zone object in the same namespace.') }),
  'The Zone (same namespace) this object belongs to.',
);
export type ZoneRef = z.infer<typeof ZoneRef>;

export const SecretRef = z.object({ name: d(k8sName(), 'Name of a Secret in the same namespace.') });
export type SecretRef = z.infer<typeof SecretRef>;

export function secretKeyRef(defaultKey?: string) {
  const key = pattern('SECRET_KEY', 253);
  return z.object({
    name: d(k8sName(), 'Name of a Secret in the same namespace.'),
    key: d(
      defaultKey ? key.default(defaultKey) : key.optional(),
      defaultKey ? `Key inside the Secret (default \`${defaultKey}\`).` : 'Key inside the Secret.',
    ),
  });
}

export const Approval = d(
  z.enum(['Automatic', 'Manual']).default('Automatic'),
  'Automatic runs the plan as soon as it is computed. Manual publishes it in status.plan and ' +
    `runs nothing until the annotation \`${APPROVE_ANNOTATION}\` equals status.plan.hash.`,
);
export type Approval = z.infer<typeof Approval>;

export const Paused = d(
  z.boolean().default(false),
  'Stop acting on this object (no plan step starts) while still observing it and updating status.',
);

// ---- status building blocks ---------------------------------------------------------------

const CONDITION_TYPE =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$';
const CONDITION_REASON = '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$';

/** metav1.Condition, field for field, so standard tooling (kubectl wait, kstatus) understands it. */
export const Condition = z.object({
  type: d(
    z.string().max(316).regex(new RegExp(CONDITION_TYPE)).meta({ pattern: CONDITION_TYPE }),
    'Type of condition in CamelCase: Ready, Progressing, Degraded, or a kind-specific one.',
  ),
  status: d(z.enum(['True', 'False', 'Unknown']), 'Status of the condition.'),
  observedGeneration: d(
    int().min(0).optional(),
    'metadata.generation the condition was set from; older than the current generation means stale.',
  ),
  lastTransitionTime: d(timestamp(), 'Last time the condition changed status.'),
  reason: d(
    z.string().min(1).max(1024).regex(new RegExp(CONDITION_REASON)).meta({ pattern: CONDITION_REASON }),
    'Programmatic CamelCase identifier of the last transition, searchable in Events.',
  ),
  message: d(text(32768), 'Human readable detail of the last transition.'),
});
export type Condition = z.infer<typeof Condition>;

export const Conditions = d(
  listMap(z.array(Condition).max(16), ['type']).optional(),
  'Standard conditions: Ready, Progressing, Degraded and kind-specific ones.',
);

export const ObservedGeneration = d(
  int().min(0).optional(),
  'The metadata.generation the status was last computed from.',
);

export const StepState = z.enum(['Pending', 'Running', 'Succeeded', 'Failed', 'Skipped']);
export type StepState = z.infer<typeof StepState>;

/** The longest step id and action the journal holds (makePlan refuses longer ones). */
export const STEP_ID_MAX = 128;
export const STEP_ACTION_MAX = 64;

export const PlanStep = z.object({
  id: d(text(STEP_ID_MAX), 'Stable step id; a restarted operator resumes after the last finished id.'),
  action: d(
    text(STEP_ACTION_MAX).optional(),
    'The runbook action of a step repeated per node or other subject (launchVm), without its subject.',
  ),
  node: d(text(128).optional(), 'The node a per-node step acts for.'),
  description: d(text(1024).optional(), 'What the step does and which runbook step it implements.'),
  host: d(text(253).optional(), 'Host the step runs on (firstbox unless a node is named).'),
  command: d(
    text(8192).optional(),
    'The exact shell command the step runs (every value quoted); secrets are never part of it.',
  ),
  digest: d(
    text(64).optional(),
    "The step's identity (host, command, check, stdin and the firstbox access): a re-plan that still holds the unfinished steps unchanged continues this plan instead of replacing it.",
  ),
  job: d(
    text(256).optional(),
    "For a job the platform runs on its own (under the operator's job guard): the job's directory on the firstbox.",
  ),
  check: d(
    text(8192).optional(),
    "For a guarded job: the check that says whether it finished, so a re-plan that already sees the job's effect still asks it before the plan goes on.",
  ),
  state: d(StepState, 'Pending, Running, Succeeded, Failed or Skipped.'),
  startedAt: d(timestamp().optional(), 'When the step started.'),
  finishedAt: d(timestamp().optional(), 'When the step finished.'),
  exitCode: d(int().optional(), 'Exit code of the step command, once finished.'),
  outputTail: d(text(4096).optional(), 'Last lines of the step output, secrets redacted.'),
  attempts: d(int().min(0).optional(), 'How many times the step was started.'),
  captured: d(
    z
      .array(z.record(text(64), text(256)).meta({ maxProperties: 8 }))
      .max(1024)
      .optional(),
    "What the step's whole output yields for the report (VBC routes, a re-pinned host key), parsed when it succeeded: never read back from the output tail.",
  ),
  note: d(
    text(1024).optional(),
    'Why a human or the operator set this state (skipped or retried by annotation, superseded).',
  ),
  forceRun: d(
    z.boolean().optional(),
    'Set by the retry-step annotation: the next attempt runs the command without asking its check, because a human verified the host.',
  ),
});
export type PlanStep = z.infer<typeof PlanStep>;

export const Plan = d(
  z.object({
    hash: d(
      text(128),
      'Hash of the plan; approve a Manual plan by copying it into the approve-plan annotation.',
    ),
    generatedAt: d(timestamp().optional(), 'When the plan was computed.'),
    steps: d(statusList(z.array(PlanStep).max(256), ['id']).optional(), 'The ordered runbook steps.'),
  }),
  'The plan computed from spec and observed facts, journaled step by step while it executes.',
);
export type Plan = z.infer<typeof Plan>;

export const CurrentStep = d(
  text(256).optional(),
  'Id of the step running now or the one waiting (approval, failure); shown by `kubectl get`.',
);

/** The subset of ObjectMeta the operator relies on; other fields pass through untouched. */
export const ObjectMeta = z.looseObject({
  name: text(253),
  namespace: text(63).optional(),
  uid: text(64).optional(),
  generation: int().optional(),
  resourceVersion: text(64).optional(),
  creationTimestamp: timestamp().optional(),
  deletionTimestamp: timestamp().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;

/** The common envelope of a namespaced custom resource of this group. */
export function resource<K extends string, Spec extends z.ZodType, Status extends z.ZodType>(
  kind: K,
  spec: Spec,
  status: Status,
) {
  return z.object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata: ObjectMeta,
    spec,
    status: status.optional(),
  });
}

// ---- runtime validation -------------------------------------------------------------------

export interface FieldIssue {
  /** Dotted path as the API server prints it: `spec.nodes[1].address`. */
  path: string;
  message: string;
}

/** A manifest or object read from the API server does not satisfy the schema. */
export class ApiValidationError extends Error {
  constructor(
    readonly kind: string,
    readonly issues: FieldIssue[],
  ) {
    super(`invalid ${kind}: ${issues.map((i) => `${i.path || '<root>'}: ${i.message}`).join('; ')}`);
    this.name = 'ApiValidationError';
  }
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

function friendly(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      // Issues carry no input (it may hold secrets); zod's message says what was received.
      return /received undefined/.test(issue.message) ? 'required' : `must be ${issue.expected}`;
    case 'too_big':
      return issue.origin === 'array'
        ? `must have at most ${issue.maximum} items`
        : `must be <= ${issue.maximum}`;
    case 'too_small':
      return issue.origin === 'array'
        ? `must have at least ${issue.minimum} items`
        : `must be >= ${issue.minimum}`;
    default:
      return issue.message;
  }
}

export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((i) => ({ path: formatPath(i.path), message: friendly(i) }));
}

/** Builds the `parseX()` of a kind: returns the typed, defaulted object or throws ApiValidationError. */
export function parser<S extends z.ZodType>(kind: string, schema: S): (obj: unknown) => z.output<S> {
  return (obj) => {
    const r = schema.safeParse(obj);
    if (!r.success) throw new ApiValidationError(kind, toFieldIssues(r.error));
    return r.data;
  };
}

/** Package pins: a list keyed by name, so each entry's pattern error names its index. */
export const PackagePin = z.object({
  name: d(pattern('PACKAGE', 100), 'Debian package name (`pitrix-ks-tag-server`).'),
  version: d(pattern('PACKAGE_VERSION', 64), 'Package version to install (`4.6.2-20250101`).'),
});
export type PackagePin = z.infer<typeof PackagePin>;

export const Packages = d(
  listMap(z.array(PackagePin).max(64), ['name']).optional(),
  'Package versions to pin; the packages must already be placed in /pitrix/repo on firstbox.',
);
