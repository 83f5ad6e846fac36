/**
 * R3's config edits (boss2.yaml, server.yaml, vm_variables) as key paths, applied by the one shared
 * YAML editor (../yamledit.ts): only the named keys' bytes change, values compared as YAML 1.1
 * like the platform's Python tools read them, every other byte kept. Pure; the same edit applied
 * to its own output yields the same text, so a re-computed plan keeps its hash.
 */
import { patternRegExp } from '../../api/patterns.js';
import { editsHold, editYaml, YamlEditError } from '../yamledit.js';

/** A key path (`nf_server.notify_settings.system.enable_save_notifylog`) and the value it must hold. */
export interface YamlSetting {
  path: readonly string[];
  value: unknown;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Flattens free-form overrides into key paths: nested objects are merged key by key (a dotted key
 * is a path too); anything else (scalars, lists) replaces the value at that path.
 */
export function flattenOverrides(overrides: Record<string, unknown>, field: string): YamlSetting[] {
  const out: YamlSetting[] = [];
  const walk = (obj: Record<string, unknown>, prefix: string[]) => {
    for (const [key, value] of Object.entries(obj)) {
      if (!patternRegExp('YAML_KEY_PATH').test(key))
        throw new ConfigError(
          `${field}: key ${JSON.stringify(key)} is not a YAML key path (use identifiers joined by dots)`,
        );
      const path = [...prefix, ...key.split('.')];
      if (isPlainObject(value) && Object.keys(value).length > 0) walk(value, path);
      else out.push({ path, value });
    }
  };
  walk(overrides, []);
  return out;
}

/** Whether every setting already holds in `text` (a missing file holds none). */
export function settingsHold(text: string | undefined, settings: readonly YamlSetting[]): boolean {
  return editsHold(text, settings, 'file');
}

/**
 * `text` with every setting applied on the shared byte-preserving editor; a missing file starts
 * empty. Throws ConfigError, naming the file and the key, when the file cannot be edited that way.
 */
export function applySettings(
  text: string | undefined,
  settings: readonly YamlSetting[],
  what: string,
): string {
  try {
    return editYaml(text ?? '', settings, what).text;
  } catch (err) {
    if (err instanceof YamlEditError) throw new ConfigError(`${err.message}; fix it by hand`);
    throw err;
  }
}
