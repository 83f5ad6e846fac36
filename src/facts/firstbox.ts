/**
 * Firstbox facts in one round trip: the installer version, the node list and (when the installer
 * has it) the zone list. The commands' stderr is left on the channel's stderr, which the collector
 * quotes when a section cannot be parsed.
 */
import type { ShellCommand } from '../ssh/types.js';
import { FactsParseError } from './errors.js';
import { parseInstallerVersion } from './installer.js';
import { parseDescribeNodes, parseDescribeZones } from './nodes.js';
import type { ParseOptions } from './probe.js';
import { END_SECTION, MARKER_FUNCTION, splitSections } from './sections.js';
import type { FirstboxFacts } from './types.js';

const FIRSTBOX_LINES = [
  'export LC_ALL=C',
  MARKER_FUNCTION,
  'm version; cat /pitrix/VERSION',
  'm nodes; /pitrix/cli/describe-nodes.py -s all -f json',
  // Older installers may lack describe-zones.py: an empty section, not an error.
  'm zones; [ -x /pitrix/cli/describe-zones.py ] && /pitrix/cli/describe-zones.py -f json',
  `m ${END_SECTION}`,
];

export const FIRSTBOX_SCRIPT = `${FIRSTBOX_LINES.join('\n')}\n`;

/** A fixed script: `-s all` is the only status used, so nothing needs quoting. */
export const FIRSTBOX_COMMAND: ShellCommand = { script: FIRSTBOX_SCRIPT, purpose: 'collect firstbox facts' };

/**
 * Throws FactsParseError when the version or the node list is unusable: without them no zone
 * decision is safe. A malformed zone list only adds a problem.
 */
export function parseFirstboxOutput(stdout: string, options: ParseOptions = {}): FirstboxFacts {
  const { sections, problems } = splitSections(stdout, 'the firstbox batch');
  const version = sections.get('version');
  if (version === undefined) throw new FactsParseError('version', 'section missing from the output');
  const installerVersion = parseInstallerVersion(version);
  const nodesText = sections.get('nodes');
  if (nodesText === undefined) throw new FactsParseError('nodes', 'section missing from the output');
  const nodes = parseDescribeNodes(nodesText);
  const facts: FirstboxFacts = {
    installerVersion,
    nodes,
    collectedAt: options.collectedAt ?? new Date().toISOString(),
    problems,
  };
  const zonesText = sections.get('zones');
  if (zonesText) {
    try {
      facts.zones = parseDescribeZones(zonesText);
    } catch (err) {
      if (!(err instanceof FactsParseError)) throw err;
      problems.push(err.message);
    }
  }
  return facts;
}
