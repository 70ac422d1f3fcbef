import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentRunner, ExecStatus, OcfRc } from '../src';
import type { SystemdContainer } from './nspawn';
import { bootSystemd } from './nspawn';

let box: SystemdContainer;
beforeAll(async () => {
  box = await bootSystemd({
    'remora-test.service':
      '[Unit]\nDescription=remora test\n[Service]\nType=simple\nExecStart=/bin/sleep infinity\n',
    'remora-fails.service':
      '[Unit]\nDescription=remora failing\n[Service]\nType=oneshot\nExecStart=/bin/false\n',
  });
}, 40_000);
afterAll(() => box?.stop(), 20_000);

describe('systemd units over D-Bus (a real systemd booted with systemd-nspawn)', () => {
  test('start writes the drop-in and starts; monitor follows ActiveState; stop removes the drop-in', async () => {
    await using runner = new AgentRunner({ systemd: { rootDir: box.rootDir } });
    const run = (action: string) =>
      runner.execute({ resourceId: 't', agent: 'systemd:remora-test', action });
    const dropIn = join(box.rootDir, 'run/systemd/system/remora-test.service.d/50-remora.conf');
    expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING);
    expect(await run('start')).toMatchObject({ rc: OcfRc.SUCCESS, execStatus: ExecStatus.done });
    expect(await readFile(dropIn, 'utf8')).toMatch(/Restart=no/);
    expect((await run('monitor')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('stop')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING);
    expect(existsSync(dropIn)).toBe(false);
  });

  test('a unit that fails to start is reported as an error with a reason', async () => {
    await using runner = new AgentRunner({ systemd: { rootDir: box.rootDir } });
    const r = await runner.execute({
      resourceId: 'f',
      agent: 'systemd:remora-fails',
      action: 'start',
    });
    expect(r.rc).not.toBe(OcfRc.SUCCESS);
    expect(r.exitReason).not.toBe('');
  });

  test('a unit that does not exist is "not installed"', async () => {
    await using runner = new AgentRunner({ systemd: { rootDir: box.rootDir } });
    const r = await runner.execute({
      resourceId: 'n',
      agent: 'systemd:remora-nope',
      action: 'start',
    });
    expect(r.rc).toBe(OcfRc.ERR_INSTALLED);
  });

  test('units are listed and service: resolves to systemd when there is no init script', async () => {
    await using runner = new AgentRunner({
      systemd: { rootDir: box.rootDir },
      lsbRoot: '/nonexistent',
    });
    expect(await runner.listAgents('systemd')).toEqual(expect.arrayContaining(['remora-test']));
    expect(await runner.resolveAgent('service:remora-test')).toEqual({
      class: 'systemd',
      type: 'remora-test',
    });
  });
});
