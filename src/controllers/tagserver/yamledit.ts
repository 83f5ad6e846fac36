/**
 * R1's server.yaml key edits (runbook R1 steps 3-4) in dotted-key form, on the one shared YAML
 * editor (../yamledit.ts): only the edited keys' bytes change, values read as YAML 1.1 like the
 * platform's Python tools read them.
 */
import * as shared from '../yamledit.js';

export { show, YamlEditError } from '../yamledit.js';

export type YamlValue = string | boolean;

export interface KeyEdit {
  /** Dotted key path: `common.enable_global_tag_server`. */
  key: string;
  value: YamlValue;
}

export interface KeyChange {
  key: string;
  before?: string;
  after: string;
}

export interface EditResult {
  text: string;
  changes: KeyChange[];
}

const toShared = (edits: readonly KeyEdit[]): shared.YamlEdit[] =>
  edits.map((e) => ({ path: e.key.split('.'), value: e.value }));
const toKeyChanges = (changes: readonly shared.YamlChange[]): KeyChange[] =>
  changes.map((c) => ({
    key: c.path.join('.'),
    ...(c.before === undefined ? {} : { before: c.before }),
    after: c.after,
  }));

/** Current value at a dotted key (YAML 1.1), or undefined when a part of the path is missing. */
export function readKey(text: string, key: string, what = 'server.yaml'): unknown {
  return shared.readPath(text, key.split('.'), what);
}

/** Keys whose values differ from the wanted ones (same type and value: the string "true" is not true). */
export function pendingEdits(text: string, edits: readonly KeyEdit[], what = 'server.yaml'): KeyChange[] {
  return toKeyChanges(shared.pendingChanges(text, toShared(edits), what));
}

/** Applies the edits; throws YamlEditError when the file cannot be edited byte for byte. */
export function editYaml(text: string, edits: readonly KeyEdit[], what = 'server.yaml'): EditResult {
  const r = shared.editYaml(text, toShared(edits), what);
  return { text: r.text, changes: toKeyChanges(r.changes) };
}

/** Throws unless `after` equals `before` with exactly the edited keys set. */
export function checkOnlyKeysChanged(
  before: string,
  after: string,
  edits: readonly KeyEdit[],
  what = 'server.yaml',
): void {
  shared.checkOnlyKeysChanged(before, after, toShared(edits), what);
}
