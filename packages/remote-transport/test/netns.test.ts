import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RemoteClient } from '../src';
import { KEY, record, tempDir, until } from './helpers';

/**
 * One daemon in its own network namespace behind a veth pair; the link is
 * cut (`ip link set down`) and restored. Needs root and `ip netns`; skipped
 * (and says so) where namespaces cannot be created.
 */
const remora = resolve(__dirname, '../../../node_modules/.bin/remora');
const id = process.pid % 200;
const ns = `rmr-test-${process.pid}`;
const hostIf = `rmrh${process.pid}`.slice(0, 15);
const nsIf = `rmrn${process.pid}`.slice(0, 15);
const hostIp = `10.231.${id}.1`;
const nsIp = `10.231.${id}.2`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const namespacesWork = ((): boolean => {
  if (process.getuid?.() !== 0) return false;
  try {
    ip('netns', 'add', `${ns}-probe`);
    ip('netns', 'del', `${ns}-probe`);
    return true;
  } catch {
    return false;
  }
})();

const describeNs = namespacesWork ? describe : describe.skip;

describeNs('a daemon in its own network namespace behind a veth pair', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let daemon: ChildProcess | undefined;

  beforeAll(async () => {
    tmp = await tempDir();
    await writeFile(join(tmp.dir, 'authkey'), KEY, { mode: 0o400 });
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', ns);
    ip('addr', 'add', `${hostIp}/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    // While the link is down, the namespace is unreachable (not routed elsewhere by a default route).
    ip('route', 'add', 'unreachable', `10.231.${id}.0/30`, 'metric', '4000');
    ip('-n', ns, 'addr', 'add', `${nsIp}/30`, 'dev', nsIf);
    ip('-n', ns, 'link', 'set', nsIf, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    daemon = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        remora,
        'remoted',
        '-l',
        `${nsIp}:3121`,
        '-k',
        join(tmp.dir, 'authkey'),
        '-n',
        'nsguest',
        '--no-local-socket',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    daemon.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    await until(`daemon serving (${err})`, 10_000, () => err.includes('serving'));
  });

  afterAll(async () => {
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGKILL');
      await new Promise((r) => daemon!.once('exit', r));
    }
    // Deleting the namespace deletes both ends of the veth pair.
    for (const args of [
      ['netns', 'del', ns],
      ['route', 'del', 'unreachable', `10.231.${id}.0/30`, 'metric', '4000'],
    ]) {
      try {
        ip(...args);
      } catch (e) {
        console.error(`cleanup: ip ${args.join(' ')}: ${String(e)}`);
      }
    }
    await tmp?.remove();
  });

  it('detects the cut link in under 2 s, and after restoring it replays what ran meanwhile exactly once', async () => {
    await using client = await RemoteClient.connect({
      address: `${nsIp}:3121`,
      authKey: KEY,
      clientName: 'host',
    });
    const seen = record(client);
    expect(client.nodeName).toBe('nsguest');
    const state = join(tmp.dir, 'ns.state');
    await client.execute({
      resourceId: 'n',
      agent: 'ocf:heartbeat:Dummy',
      action: 'start',
      params: { state },
    });
    // Runs 800 ms from now, while the link is down.
    const late = await client.submit({
      resourceId: 'n2',
      agent: 'ocf:heartbeat:Dummy',
      action: 'start',
      startDelay: 800,
      params: { state: `${state}2` },
    });
    const cutAt = Date.now();
    ip('link', 'set', hostIf, 'down');
    try {
      await until('loss detected', 3000, () => seen.states.some((s) => s.state === 'down'));
      expect(seen.states.find((s) => s.state === 'down')!.at - cutAt).toBeLessThan(2000);
      await new Promise((r) => setTimeout(r, 1500)); // the late start runs in the namespace
    } finally {
      ip('link', 'set', hostIf, 'up');
    }
    await until('reconnected', 10_000, () => seen.states.some((s) => s.state === 'connected'));
    expect(seen.states.find((s) => s.state === 'connected')!.restarted).toBe(false);
    await until('the late start replayed', 5000, () =>
      seen.results.some((r) => r.callId === late.callId),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.results.filter((r) => r.callId === late.callId)).toHaveLength(1);
    expect(seen.results.find((r) => r.callId === late.callId)!.rc).toBe(0);
  }, 30_000);
});

if (!namespacesWork) {
  test.skip('network namespace test skipped: needs root and a working `ip netns add`', () => {});
}
