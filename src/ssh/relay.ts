/**
 * Nodes are reached through the firstbox, as the runbooks do: the operator authenticates to the
 * firstbox alone, and the firstbox runs `ssh` to the node with its own keys and its own
 * known_hosts. So the operator's credentials are never offered to a node (or to whatever a
 * resource names as one), and a node's host key is the one the firstbox already trusts.
 *
 * The relay is a fixed argv: batch mode (never a prompt, never a password), strict host key
 * checking against the firstbox's known_hosts (an unknown or changed key stops before any
 * authentication), no host-key updates, no forwarding; only the port, user and address vary, each
 * validated. The node command travels as one quoted argument, which ssh hands to the node's shell.
 */
import { patternRegExp } from '../api/patterns.js';
import { shell, validated } from './command.js';
import { ConnectError, SshError, ValidationError } from './errors.js';
import type { ExecResult, HostTarget, ShellCommand } from './types.js';

/** Options every relayed `ssh` carries, in this order (docs/platform-interface.md, "Node access"). */
export const RELAY_SSH_OPTIONS: readonly string[] = [
  '-T',
  '-o',
  'BatchMode=yes',
  '-o',
  'StrictHostKeyChecking=yes',
  '-o',
  'UpdateHostKeys=no',
  '-o',
  'PasswordAuthentication=no',
  '-o',
  'KbdInteractiveAuthentication=no',
  '-o',
  'ForwardAgent=no',
  '-o',
  'ClearAllForwardings=yes',
  '-o',
  'ConnectTimeout=10',
  '-o',
  'ServerAliveInterval=15',
  '-o',
  'ServerAliveCountMax=4',
  '-o',
  'LogLevel=ERROR',
];

const USER = patternRegExp('UNIX_USER');

export interface NodeEndpoint {
  address: string;
  port: number;
  user: string;
}

function checkedEndpoint(node: NodeEndpoint): NodeEndpoint {
  const address = validated('HOST', node.address, 'node address');
  if (!Number.isInteger(node.port) || node.port < 1 || node.port > 65535) {
    throw new ValidationError('node port', String(node.port), 'a TCP port', 'use 1-65535 (sshPort)');
  }
  if (!USER.test(node.user)) {
    throw new ValidationError(
      'node user',
      node.user,
      'a Unix user name',
      'use lower-case letters, digits, _ and -',
    );
  }
  return { address, port: node.port, user: node.user };
}

/** The firstbox command that runs `cmd` on `node` over the firstbox's own ssh. */
export function throughFirstbox(node: NodeEndpoint, cmd: ShellCommand): ShellCommand {
  const n = checkedEndpoint(node);
  // `--` ends ssh's options: the address (validated, never starting with `-`) and the command follow.
  const argv = ['ssh', ...RELAY_SSH_OPTIONS, '-p', String(n.port), '-l', n.user, '--', n.address, cmd.script];
  return shell(argv, `${cmd.purpose} on ${n.address} (through the firstbox's ssh)`);
}

/** What ssh itself prints when it gives up before (or instead of) running the command. */
const HOST_KEY =
  /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No (ED25519|ECDSA|RSA)? ?host key is known/i;
const AUTH = /Permission denied \(/;
const BEFORE_RUN =
  /^ssh: (connect to host|Could not resolve hostname)|Connection (refused|timed out)|No route to host|Connection closed by .* port \d+|kex_exchange_identification|Network is unreachable/m;

/** The ssh client on the firstbox failed to reach the node (exit 255 with ssh's own diagnostics). */
export class NodeRelayError extends ConnectError {}

/** The firstbox's known_hosts has no key, or another key, for the node: nothing ran on it. */
export class NodeHostKeyError extends SshError {
  readonly reason = 'host-key' as const;
}

/**
 * Turns a relayed result into an error when ssh itself failed (exit 255 and one of its own
 * messages): the command then never ran on the node. Any other result, including a node command
 * that exits 255 on its own, is returned as it is.
 */
export function relayFailure(node: HostTarget, purpose: string, r: ExecResult): SshError | undefined {
  if (r.exitCode !== 255) return undefined;
  const said = r.stderr.trim().split('\n').slice(-3).join(' ').slice(0, 300);
  const where = `${node.address}:${node.port}`;
  if (HOST_KEY.test(r.stderr)) {
    return new NodeHostKeyError(`the firstbox refused ${where}'s host key (${said}); nothing was executed`, {
      host: node.name,
      purpose,
      remedy:
        'nodes are reached through the firstbox with StrictHostKeyChecking=yes: if the installer lists this node, verify its key ' +
        'out of band and add it to /root/.ssh/known_hosts on the firstbox (a changed key: treat it as a possible man-in-the-middle)',
    });
  }
  if (AUTH.test(r.stderr)) {
    return new NodeRelayError(
      `the firstbox's key is not accepted by ${where} (${said}); nothing was executed`,
      {
        host: node.name,
        purpose,
        remedy:
          'give the firstbox key access to the node (runbook R4.2: establish_ssh.sh with spec.nodeCredentialsSecretRef), then it is retried',
      },
    );
  }
  if (BEFORE_RUN.test(r.stderr)) {
    return new NodeRelayError(`the firstbox could not connect to ${where} (${said})`, {
      host: node.name,
      purpose,
      remedy: `check that the node is up and its sshd listens on port ${node.port} (spec.sshPort), as seen from the firstbox`,
    });
  }
  return undefined;
}
