import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentRunner, ExecStatus, OcfRc } from '../src';
import type { Sandbox } from './helpers';
import { makeSandbox, processesWith } from './helpers';

let box: Sandbox;
let nextSeconds = 800_000 + (process.pid % 10_000) * 10;
const uniqueSeconds = (): string => String(nextSeconds++);

beforeAll(async () => {
  box = await makeSandbox();
  // Forks a "daemon" that keeps stdout and stderr open, then exits 0 at once.
  await box.ocfAgent('forker', `#!/bin/sh\nsleep "$OCF_RESKEY_secs" &\necho started\nexit 0\n`);
  // Writes 10 MiB to stdout.
  await box.ocfAgent(
    'flood',
    `#!/bin/sh\nhead -c 10485760 /dev/zero | tr '\\\\0' x\necho END-OF-FLOOD\nexit 0\n`,
  );
  // Kills itself with SIGSEGV.
  await box.ocfAgent('crasher', `#!/bin/sh\nkill -SEGV $$\n`);
  await box.script(join(box.ocfRoot, 'resource.d', 'test', 'noexec'), '#!/bin/sh\nexit 0\n');
  await chmod(join(box.ocfRoot, 'resource.d', 'test', 'noexec'), 0o644);
});
afterAll(() => box.remove());

describe('hostile agents (fixture agents)', () => {
  test('an agent that forks a daemon holding stdout open completes when it exits', async () => {
    const secs = uniqueSeconds();
    await using runner = new AgentRunner({ ocfRoot: box.ocfRoot });
    const r = await runner.execute({
      resourceId: 'f',
      agent: 'ocf:test:forker',
      action: 'start',
      params: { secs },
    });
    expect(r).toMatchObject({ rc: OcfRc.SUCCESS, execStatus: ExecStatus.done });
    expect(r.stdout).toMatch(/started/);
    expect(r.runTime).toBeLessThan(5000);
    // The daemon it forked is the agent's business (as with Pacemaker): kill it here.
    for (const pid of processesWith(`sleep ${secs}`)) process.kill(pid, 'SIGKILL');
  });

  test('an agent flooding its output keeps only the bounded tail', async () => {
    await using runner = new AgentRunner({ ocfRoot: box.ocfRoot, outputTailBytes: 4096 });
    const r = await runner.execute({ resourceId: 'fl', agent: 'ocf:test:flood', action: 'start' });
    expect(r.rc).toBe(OcfRc.SUCCESS);
    expect(r.stdout.length).toBeLessThanOrEqual(4096);
    expect(r.stdout).toMatch(/END-OF-FLOOD\n?$/);
  });

  test('an agent killed by a signal is an error naming the signal', async () => {
    await using runner = new AgentRunner({ ocfRoot: box.ocfRoot });
    const r = await runner.execute({ resourceId: 'c', agent: 'ocf:test:crasher', action: 'start' });
    expect(r).toMatchObject({
      rc: OcfRc.ERR_GENERIC,
      execStatus: ExecStatus.error,
      signal: 'SIGSEGV',
    });
  });

  test('an agent that is not executable is reported, not thrown', async () => {
    await using runner = new AgentRunner({ ocfRoot: box.ocfRoot });
    const r = await runner.execute({ resourceId: 'n', agent: 'ocf:test:noexec', action: 'start' });
    expect(r.rc).not.toBe(OcfRc.SUCCESS);
    expect(r.exitReason).toMatch(/noexec|permission|EACCES|executable/i);
  });
});

describe('promotable agents (real ocf:pacemaker:Stateful)', () => {
  test('start, promote, monitor as promoted, demote, stop', async () => {
    await using runner = new AgentRunner();
    const params = { state: join(box.dir, 'stateful.state') };
    const run = (action: string, meta?: Record<string, string>) =>
      runner.execute({ resourceId: 'st', agent: 'ocf:pacemaker:Stateful', action, params, meta });
    expect((await run('start')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('monitor')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('promote')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('monitor', { role: 'Promoted' })).rc).toBe(OcfRc.RUNNING_PROMOTED);
    expect((await run('demote')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('monitor')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('stop')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING);
  });
});
