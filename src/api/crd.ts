/**
 * Renders the CustomResourceDefinitions from the zod schemas. zod's JSON Schema is close to what
 * the API server wants but not structural as is; `toStructural` fixes the differences and throws
 * on anything it cannot express, so a schema change never silently produces a CRD the API server
 * rejects or, worse, prunes.
 */
import { stringify } from 'yaml';
import { z } from 'zod';
import { GROUP, VERSION } from './common.js';
import { type KindInfo, kinds } from './kinds.js';

type JsonSchema = Record<string, unknown>;

const SAFE_INT = 9007199254740991;

function isObject(v: unknown): v is JsonSchema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The JSONSchemaProps keywords a CRD gets, in output order (so the YAML reads like a hand-written
 * CRD); any other keyword zod emits is an error to handle here.
 */
const ORDER = [
  'description',
  'type',
  'format',
  'enum',
  'default',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'required',
  'properties',
  'additionalProperties',
  'items',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-validations',
];

/** Post-processes zod JSON Schema (openapi-3.0 target) into a Kubernetes structural schema. */
export function toStructural(schema: JsonSchema, path = ''): JsonSchema {
  const out: JsonSchema = { ...schema };
  delete out.$schema;
  delete out.id;
  if ('const' in out) {
    out.enum = [out.const];
    delete out.const;
  }
  // z.int() bounds itself to the JS safe range; int64 is the API server's own bound.
  if (out.minimum === -SAFE_INT) delete out.minimum;
  if (out.maximum === SAFE_INT) delete out.maximum;
  // Free-form objects: zod says "any additional property"; Kubernetes says "do not prune".
  const ap = out.additionalProperties;
  if (ap === true || (isObject(ap) && Object.keys(ap).length === 0)) {
    delete out.additionalProperties;
    out['x-kubernetes-preserve-unknown-fields'] = true;
  } else if (ap === false) {
    // Unknown fields are pruned (or refused by kubectl's strict field validation) anyway.
    delete out.additionalProperties;
  }
  if (isObject(out.properties) && Object.keys(out.properties).length === 0) delete out.properties;
  // `kubectl explain` does not print `default`, so the description says it.
  if ('default' in out && typeof out.description === 'string' && !/default/i.test(out.description)) {
    const v = out.default;
    if (typeof v !== 'object') out.description = `${out.description} Default: \`${String(v)}\`.`;
  }

  for (const key of Object.keys(out)) {
    if (!ORDER.includes(key))
      throw new Error(`${path || '<root>'}: keyword '${key}' is not expressible in a CRD schema`);
  }
  if (!out.type && !out['x-kubernetes-preserve-unknown-fields']) {
    throw new Error(`${path || '<root>'}: structural schemas need a type`);
  }
  if (isObject(out.properties)) {
    const props: JsonSchema = {};
    for (const [k, v] of Object.entries(out.properties))
      props[k] = toStructural(v as JsonSchema, `${path}.${k}`);
    out.properties = props;
  }
  if (isObject(out.additionalProperties)) {
    out.additionalProperties = toStructural(out.additionalProperties, `${path}.*`);
  }
  if (isObject(out.items)) out.items = toStructural(out.items, `${path}[*]`);
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  const sorted: JsonSchema = {};
  for (const k of ORDER) if (k in out) sorted[k] = out[k];
  return sorted;
}

/** The openAPIV3Schema of a kind, ready for a CRD. */
export function openApiSchema(info: KindInfo): JsonSchema {
  const raw = z.toJSONSchema(info.schema, { io: 'input', target: 'openapi-3.0', unrepresentable: 'throw' });
  const root = toStructural(raw as JsonSchema);
  const props = root.properties as JsonSchema;
  // The API server owns these; a CRD may not constrain them beyond their type.
  props.apiVersion = {
    type: 'string',
    description: 'APIVersion defines the versioned schema of this representation of an object.',
  };
  props.kind = {
    type: 'string',
    description: 'Kind is a string value representing the REST resource this object represents.',
  };
  props.metadata = { type: 'object' };
  // Only spec is required; status is written by the operator through the status subresource.
  root.required = ['spec'];
  return root;
}

/** The full CustomResourceDefinition object of a kind. */
export function crdObject(info: KindInfo): JsonSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${info.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: info.kind,
        listKind: info.listKind,
        plural: info.plural,
        singular: info.singular,
        shortNames: info.shortNames,
        categories: info.categories,
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: info.printerColumns.map((c) => ({ ...c })),
          schema: { openAPIV3Schema: openApiSchema(info) },
        },
      ],
    },
  };
}

const HEADER = '# Generated from src/api by `npm run crds`; do not edit by hand.\n';

/** One CRD per kind, file name as kubebuilder names them (`ops.pitrix.io_zones.yaml`). */
export function renderCrds(
  of: readonly KindInfo<unknown>[] = kinds as readonly KindInfo<unknown>[],
): Array<{ fileName: string; yaml: string }> {
  return of.map((info) => ({
    fileName: `${GROUP}_${info.plural}.yaml`,
    yaml: HEADER + stringify(crdObject(info as KindInfo), { lineWidth: 0 }),
  }));
}
