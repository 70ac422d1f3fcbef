import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExitCode } from '../src';
import { remoraBin, runRemora } from './run-remora';

describe('remora authkey, remoted and exec', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'remora-cli-remote-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test('authkey generate writes 4096 bytes, mode 0400, and refuses to overwrite', async () => {
    const key = path.join(dir, 'sub', 'authkey');
    expect((await runRemora(['authkey', 'generate', '-o', key])).code).toBe(0);
    const st = await stat(key);
    expect(st.size).toBe(4096);
    expect(st.mode & 0o777).toBe(0o400);
    const again = await runRemora(['authkey', 'generate', '-o', key]);
    expect(again.code).toBe(ExitCode.ERROR);
    expect(again.stderr).toMatch(/exists; use --force/);
    expect((await runRemora(['authkey', 'generate', '-o', key, '--force'])).code).toBe(0);
  });

  test('exec runs an agent through a running remoted and exits with its rc', async () => {
    const key = path.join(dir, 'k2');
    await runRemora(['authkey', 'generate', '-o', key]);
    const daemon = spawn(
      remoraBin,
      [
        'remoted',
        '-l',
        '127.0.0.1:0',
        '-k',
        key,
        '-n',
        'g9',
        '--local-socket',
        path.join(dir, 'g9.sock'),
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    try {
      const address = await new Promise<string>((resolve, reject) => {
        let err = '';
        daemon.stderr.on('data', (b: Buffer) => {
          err += b.toString();
          const m = /serving g9 on (\S+)/.exec(err);
          if (m) resolve(m[1]!);
        });
        daemon.once('exit', () => reject(new Error(`daemon exited: ${err}`)));
      });
      const state = `state=${path.join(dir, 'd.state')}`;
      const start = await runRemora([
        'exec',
        '-a',
        address,
        '-k',
        key,
        'ocf:heartbeat:Dummy',
        'start',
        '-p',
        state,
      ]);
      expect(start.code).toBe(0);
      expect(start.stderr).toMatch(/remora-cli_start_0 on g9: rc=0 \(ok\) done/);
      expect(
        (
          await runRemora([
            'exec',
            '-a',
            address,
            '-k',
            key,
            'ocf:heartbeat:Dummy',
            'monitor',
            '-p',
            state,
          ])
        ).code,
      ).toBe(0);

      const other = path.join(dir, 'other');
      await runRemora(['authkey', 'generate', '-o', other]);
      const wrong = await runRemora([
        'exec',
        '-a',
        address,
        '-k',
        other,
        'ocf:heartbeat:Dummy',
        'monitor',
      ]);
      expect(wrong.code).toBe(ExitCode.INSUFFICIENT_PRIV);
      expect(wrong.stderr).toMatch(/wrong authkey/);
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('exit', r));
    }
    expect(daemon.exitCode).toBe(0);
  });

  test('bad keys and unreachable daemons get distinct exit codes', async () => {
    const missing = await runRemora([
      'exec',
      '-a',
      '127.0.0.1:1',
      '-k',
      path.join(dir, 'nope'),
      'ocf:heartbeat:Dummy',
      'monitor',
    ]);
    expect(missing.code).toBe(ExitCode.NOT_CONFIGURED);
    expect(missing.stderr).toMatch(/does not exist \(create one with `remora authkey generate`\)/);
    const key = path.join(dir, 'k3');
    await runRemora(['authkey', 'generate', '-o', key]);
    const down = await runRemora([
      'exec',
      '-a',
      '127.0.0.1:1',
      '-k',
      key,
      '--connect-timeout',
      '500ms',
      'ocf:heartbeat:Dummy',
      'monitor',
    ]);
    expect(down.code).toBe(ExitCode.DISCONNECT);
    expect(down.stderr).toMatch(/127\.0\.0\.1:1: no answer within 500 ms/);
  });
});
