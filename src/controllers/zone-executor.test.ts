import { describe, expect, it } from 'vitest';
import { shell } from '../ssh/command.js';
import type { SshPool } from '../ssh/pool.js';
import type { ExecResult, HostTarget, ShellCommand } from '../ssh/types.js';
import { ZoneExecutor } from './platform.js';

const firstbox: HostTarget = { name: '10.0.0.1', address: '10.0.0.1', port: 22, user: 'root' };

/** A stand-in for the SSH pool that records where each command would have gone. */
function fakePool(answer: Partial<ExecResult> = {}) {
  const sent: Array<{ target: HostTarget; script: string }> = [];
  const pool = {
    exec: async (target: HostTarget, cmd: ShellCommand): Promise<ExecResult> => {
      sent.push({ target, script: cmd.script });
      return {
        host: target.name,
        purpose: cmd.purpose,
        exitCode: 0,
        signal: null,
        durationMs: 1,
        stdout: 'ok',
        stderr: '',
        truncated: false,
        ...answer,
      };
    },
    close: async () => undefined,
  };
  return { sent, pool: pool as unknown as SshPool };
}

describe('ZoneExecutor (issue 12: the operator connects to the firstbox only)', () => {
  const cmd = shell(['uname', '-m'], 'probe');

  it('sends firstbox commands to the firstbox as they are', async () => {
    const { sent, pool } = fakePool();
    await new ZoneExecutor(pool, firstbox).exec(firstbox, cmd);
    expect(sent).toEqual([{ target: firstbox, script: 'uname -m' }]);
  });

  it("sends a node's command to the firstbox, wrapped in the firstbox's strict ssh", async () => {
    const { sent, pool } = fakePool();
    const node: HostTarget = {
      name: '10.0.0.5',
      address: '10.0.0.5',
      port: 2222,
      user: 'root',
      role: 'node',
    };
    const r = await new ZoneExecutor(pool, firstbox).exec(node, cmd);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.target).toBe(firstbox);
    expect(sent[0]!.script).toMatch(
      /^ssh -T .*'StrictHostKeyChecking=yes'.* -p 2222 -l root -- 10\.0\.0\.5 'uname -m'$/,
    );
    expect(r.host).toBe('10.0.0.5');
  });

  it("never connects to the firstbox's address on another port, or to any target not built as a node", async () => {
    const { sent, pool } = fakePool();
    const ex = new ZoneExecutor(pool, firstbox);
    await expect(ex.exec({ ...firstbox, port: 2222 }, cmd)).rejects.toThrow(
      /not the firstbox.*nodes are reached through it/,
    );
    await expect(
      ex.exec({ name: '10.0.0.9', address: '10.0.0.9', port: 22, user: 'root' }, cmd),
    ).rejects.toThrow(/not the firstbox/);
    // A node target on the firstbox's own endpoint is still relayed, not connected to with the credentials' identity.
    await ex.exec({ ...firstbox, role: 'node' }, cmd);
    expect(sent.map((s) => s.target)).toEqual([firstbox]);
    expect(sent[0]!.script).toMatch(/^ssh /);
  });

  it('turns an ssh failure on the firstbox into an error naming the node and the remedy', async () => {
    const { pool } = fakePool({ exitCode: 255, stdout: '', stderr: 'Host key verification failed.\n' });
    const node: HostTarget = { name: '10.0.0.5', address: '10.0.0.5', port: 22, user: 'root', role: 'node' };
    await expect(new ZoneExecutor(pool, firstbox).exec(node, cmd)).rejects.toThrow(
      /^10\.0\.0\.5: the firstbox refused 10\.0\.0\.5:22's host key/,
    );
  });
});
