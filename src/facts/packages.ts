/** Installed `pitrix-*` packages from `dpkg-query -W -f='${Package} ${Version} ${Status}\n'`. */

export interface PackagesResult {
  packages: Record<string, string>;
  problems: string[];
}

const NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const VERSION = /^[0-9][A-Za-z0-9.+~:-]*$/;

/**
 * Only `install ok installed` counts: removed packages keep their config (`deinstall ok
 * config-files`) and half-installed ones are broken, and neither runs. An empty text means no
 * package matched (dpkg-query then says so on stderr), which is a valid answer.
 */
export function parsePackages(text: string): PackagesResult {
  const packages: Record<string, string> = {};
  let skipped = 0;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length === 1 && fields[0] === '') continue;
    const [name, version, ...status] = fields;
    if (!name || !version || !NAME.test(name) || !VERSION.test(version) || status.length !== 3) {
      skipped++;
      continue;
    }
    if (status.join(' ') === 'install ok installed') packages[name] = version;
  }
  const problems = skipped > 0 ? [`packages: ignored ${skipped} unrecognised line(s)`] : [];
  return { packages, problems };
}
