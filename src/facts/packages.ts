/** Installed `pitrix-*` packages from `dpkg-query -W -f='${Package} ${Version} ${Status}\n'`. */

export interface PackagesResult {
  packages: Record<string, string>;
  problems: string[];
}

const NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const VERSION = /^[0-9][A-Za-z0-9.+~:-]*$/;
// want, error flag, status: `install ok installed`, `deinstall ok config-files`, `unknown ok not-installed`.
const STATUS = /^(?:unknown|install|hold|deinstall|purge) (?:ok|reinstreq) [a-z-]+$/;

/**
 * Only `install ok installed` counts: removed packages keep their config (`deinstall ok
 * config-files`) and half-installed ones are broken, and neither runs. An empty text means no
 * package matched (dpkg-query then says so on stderr), which is a valid answer.
 */
export function parsePackages(text: string): PackagesResult {
  const packages: Record<string, string> = {};
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.trim().split(/\s+/);
    // Status is always the last three words; a package dpkg merely knows of has no version.
    const status = fields.slice(-3);
    const [name, version, ...extra] = fields.slice(0, -3);
    if (!name || extra.length > 0 || !NAME.test(name) || !STATUS.test(status.join(' '))) {
      skipped++;
      continue;
    }
    if (status.join(' ') !== 'install ok installed') continue;
    if (!version || !VERSION.test(version)) {
      skipped++;
      continue;
    }
    packages[name] = version;
  }
  const problems = skipped > 0 ? [`packages: ignored ${skipped} unrecognised line(s)`] : [];
  return { packages, problems };
}
