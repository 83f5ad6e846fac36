import { describe, expect, it } from 'vitest';
import { shell } from './command.js';
import { ValidationError } from './errors.js';
import {
  NodeHostKeyError,
  NodeRelayError,
  RELAY_SSH_OPTIONS,
  relayFailure,
  throughFirstbox,
} from './relay.js';
import type { ExecResult } from './types.js';

const node = { name: '10.0.0.5', address: '10.0.0.5', port: 2222, user: 'root', role: 'node' as const };
const result = (exitCode: number, stderr: string): ExecResult => ({
  host: 'fb',
  purpose: 'x',
  exitCode,
  signal: null,
  durationMs: 1,
  stdout: '',
  stderr,
  truncated: false,
});

describe('throughFirstbox', () => {
  it('builds a fixed ssh argv: batch mode, strict host keys, the spec port, the command as one argument', () => {
    const cmd = throughFirstbox(node, shell(['supervisorctl', 'status'], 'check services'));
    expect(cmd.script).toBe(
      `ssh ${RELAY_SSH_OPTIONS.map((o) => (o.includes('=') ? `'${o}'` : o)).join(' ')} -p 2222 -l root -- 10.0.0.5 'supervisorctl status'`,
    );
    expect(cmd.script).toContain("-o 'StrictHostKeyChecking=yes'");
    expect(cmd.script).toContain("-o 'BatchMode=yes'");
    expect(cmd.script).toContain("-o 'PasswordAuthentication=no'");
    expect(cmd.purpose).toBe("check services on 10.0.0.5 (through the firstbox's ssh)");
  });

  it('keeps a hostile node command inside one quoted argument', () => {
    const cmd = throughFirstbox(node, { script: "echo 'a'; rm -rf /", purpose: 'p' });
    expect(cmd.script.endsWith(`-- 10.0.0.5 'echo '\\''a'\\''; rm -rf /'`)).toBe(true);
  });

  it('refuses an address, port or user that could be read as something else', () => {
    const c = shell(['true'], 'p');
    expect(() => throughFirstbox({ ...node, address: '-oProxyCommand=x' }, c)).toThrow(ValidationError);
    expect(() => throughFirstbox({ ...node, address: '10.0.0.5 evil' }, c)).toThrow(/node address/);
    expect(() => throughFirstbox({ ...node, port: 0 }, c)).toThrow(/node port/);
    expect(() => throughFirstbox({ ...node, user: 'root -oX' }, c)).toThrow(/node user/);
  });
});

describe('relayFailure', () => {
  it('names a host key the firstbox refuses, and says nothing ran', () => {
    const e = relayFailure(node, 'collect node facts', result(255, 'Host key verification failed.\n'));
    expect(e).toBeInstanceOf(NodeHostKeyError);
    expect(e!.reason).toBe('host-key');
    expect(e!.message).toMatch(/^10\.0\.0\.5: the firstbox refused 10\.0\.0\.5:2222's host key/);
    expect(e!.message).toMatch(/nothing was executed/);
    expect(e!.message).toMatch(/known_hosts on the firstbox/);
  });
  it('names a refused firstbox key with the runbook remedy', () => {
    const e = relayFailure(node, 'p', result(255, 'root@10.0.0.5: Permission denied (publickey).\n'));
    expect(e).toBeInstanceOf(NodeRelayError);
    expect(e!.message).toMatch(/establish_ssh\.sh/);
  });
  it('names a connection failure with the port to check', () => {
    const e = relayFailure(
      node,
      'p',
      result(255, 'ssh: connect to host 10.0.0.5 port 2222: Connection refused\n'),
    );
    expect(e).toBeInstanceOf(NodeRelayError);
    expect(e!.reason).toBe('connect');
    expect(e!.message).toMatch(/port 2222 \(spec\.sshPort\)/);
  });
  it("leaves the node command's own results alone, 255 included", () => {
    expect(relayFailure(node, 'p', result(0, ''))).toBeUndefined();
    expect(relayFailure(node, 'p', result(3, 'Host key verification failed.'))).toBeUndefined();
    expect(relayFailure(node, 'p', result(255, 'my tool failed'))).toBeUndefined();
  });
});
