import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentRunner, ExecStatus, OcfRc } from '../src';
import type { Sandbox } from './helpers';
import { makeSandbox } from './helpers';

let box: Sandbox;
beforeAll(async () => {
  box = await makeSandbox();
  // An LSB init script keeping its state in a file; `status` answers with the
  // code found in <dir>/<name>.status when present (to test the mapping).
  const init = (name: string): string => `#!/bin/sh
### BEGIN INIT INFO
# Provides:          ${name}
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: ${name} test service
# Description:       A test service that keeps its state in a file.
### END INIT INFO
STATE=${box.dir}/${name}.running
case "$1" in
  start) touch "$STATE" ;;
  stop) rm -f "$STATE" ;;
  status)
    [ -f ${box.dir}/${name}.status ] && exit $(cat ${box.dir}/${name}.status)
    [ -f "$STATE" ] && exit 0
    exit 3 ;;
  *) exit 3 ;;
esac
`;
  await box.script(join(box.lsbRoot, 'svc'), init('svc'));
  await box.script(join(box.lsbRoot, 'mapped'), init('mapped'));
});
afterAll(() => box.remove());

describe('LSB init scripts (real scripts in a temporary init.d)', () => {
  test('start, monitor (status), stop follow the LSB to OCF mapping', async () => {
    await using runner = new AgentRunner({ lsbRoot: box.lsbRoot });
    const run = (action: string) => runner.execute({ resourceId: 'svc', agent: 'lsb:svc', action });
    expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING);
    expect((await run('start')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('monitor')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('stop')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING);
  });

  test.each([
    [0, OcfRc.SUCCESS],
    [1, OcfRc.NOT_RUNNING],
    [2, OcfRc.NOT_RUNNING],
    [3, OcfRc.NOT_RUNNING],
    [4, OcfRc.ERR_GENERIC],
    [150, OcfRc.ERR_INSTALLED],
    [151, OcfRc.ERR_PERM],
  ])('status exit %d maps to rc %d', async (status, rc) => {
    await writeFile(join(box.dir, 'mapped.status'), String(status));
    await using runner = new AgentRunner({ lsbRoot: box.lsbRoot });
    expect(
      (await runner.execute({ resourceId: 'm', agent: 'lsb:mapped', action: 'monitor' })).rc,
    ).toBe(rc);
  });

  test('meta-data is synthesized from the INIT INFO header', async () => {
    await using runner = new AgentRunner({ lsbRoot: box.lsbRoot });
    const md = await runner.metaData('lsb:svc');
    expect(md.name).toBe('svc');
    expect(md.shortdesc).toBe('svc test service');
    expect(md.longdesc).toMatch(/keeps its state/);
    expect(md.actions.map((a) => a.name)).toEqual(
      expect.arrayContaining(['start', 'stop', 'monitor']),
    );
  });

  test('service:x resolves to lsb:x when the init script exists', async () => {
    await using runner = new AgentRunner({ lsbRoot: box.lsbRoot });
    expect(await runner.resolveAgent('service:svc')).toEqual({ class: 'lsb', type: 'svc' });
    const r = await runner.execute({ resourceId: 'svc2', agent: 'service:svc', action: 'monitor' });
    expect(r.agent).toBe('lsb:svc');
  });

  test('a missing init script is "not installed"', async () => {
    await using runner = new AgentRunner({ lsbRoot: box.lsbRoot });
    const r = await runner.execute({ resourceId: 'n', agent: 'lsb:nope', action: 'start' });
    expect(r).toMatchObject({ rc: OcfRc.ERR_INSTALLED, execStatus: ExecStatus.notInstalled });
  });

  test('a real Debian init script (atd from the "at" package) answers status', async () => {
    await using runner = new AgentRunner();
    const r = await runner.execute({ resourceId: 'atd', agent: 'lsb:atd', action: 'monitor' });
    expect([OcfRc.SUCCESS, OcfRc.NOT_RUNNING]).toContain(r.rc);
    expect(r.execStatus).toBe(ExecStatus.done);
  });
});

describe('upstart jobs (initctl is a fixture: upstart is not in Debian 12)', () => {
  test('start, status and stop go through initctl and parse its output', async () => {
    const box2 = await makeSandbox();
    try {
      const state = join(box2.dir, 'job.state');
      const initctl = await box2.script(
        'initctl',
        `#!/bin/sh
case "$1" in
  start) touch ${state}; echo "$2 start/running, process 4242" ;;
  stop) rm -f ${state}; echo "$2 stop/waiting" ;;
  status)
    if [ "$2" != web ]; then echo "initctl: Unknown job: $2" >&2; exit 1; fi
    if [ -f ${state} ]; then echo "$2 start/running, process 4242"; else echo "$2 stop/waiting"; fi ;;
esac
`,
      );
      await using runner = new AgentRunner({ initctl });
      const run = (action: string, job = 'web') =>
        runner.execute({ resourceId: job, agent: `upstart:${job}`, action });
      expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING);
      expect((await run('start')).rc).toBe(OcfRc.SUCCESS);
      expect((await run('monitor')).rc).toBe(OcfRc.SUCCESS);
      expect((await run('stop')).rc).toBe(OcfRc.SUCCESS);
      expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING);
      expect((await run('monitor', 'other')).rc).toBe(OcfRc.ERR_INSTALLED);
    } finally {
      await box2.remove();
    }
  });
});
