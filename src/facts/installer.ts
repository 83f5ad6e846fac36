/** The installer version from `/pitrix/VERSION`. */
import { excerpt, FactsParseError } from './errors.js';

/**
 * The first dotted number of the file: `4.6.2`, also from `4.6.2-20200101` or `v4.6`. Suffixes are
 * dropped because every runbook rule is about the dotted release ("≥ 4.3.0", "≥ 4.6").
 */
export function parseInstallerVersion(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  const m = /(?:^|[^\d.])v?(\d+(?:\.\d+)+)/.exec(` ${line.trim()}`);
  if (!m?.[1]) throw new FactsParseError('version', `/pitrix/VERSION holds no version (${excerpt(text)})`);
  return m[1];
}
