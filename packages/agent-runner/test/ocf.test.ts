import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentRunner, ExecStatus, InvalidParameterError, InvalidRequestError, OcfRc } from '../src';
import type { Sandbox } from './helpers';
import { makeSandbox, processesWith } from './helpers';

const DUMMY = 'ocf:heartbeat:Dummy';

let box: Sandbox;
beforeAll(async () => {
  box = await makeSandbox();
  // Writes its environment and action, then exits with the code in OCF_RESKEY_rc.
  await box.ocfAgent(
    'envdump',
    `#!/bin/sh
env | grep -E '^OCF_' | sort > "$OCF_RESKEY_out.$1"
[ -n "$OCF_RESKEY_reason" ] && echo "\${OCF_EXIT_REASON_PREFIX}$OCF_RESKEY_reason" >&2
exit \${OCF_RESKEY_rc:-0}
`,
  );
  // Starts a long-lived child and never returns: only a kill of the group ends both.
  await box.ocfAgent(
    'hang',
    `#!/bin/sh
sleep "$OCF_RESKEY_secs" &
sleep "$OCF_RESKEY_secs"
`,
  );
});
afterAll(() => box.remove());

let nextSeconds = 700_000 + (process.pid % 10_000) * 10;
/** A sleep duration no other process on the machine uses, to find our processes in ps. */
function uniqueSeconds(): string {
  return String(nextSeconds++);
}

async function envOf(file: string): Promise<Record<string, string>> {
  const lines = (await readFile(file, 'utf8')).trim().split('\n');
  return Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('OCF agents (real ocf:heartbeat:Dummy from resource-agents)', () => {
  test('start, monitor, stop, monitor follow the OCF contract', async () => {
    await using runner = new AgentRunner();
    const params = { state: join(box.dir, 'dummy.state') };
    const run = (action: string) =>
      runner.execute({ resourceId: 'dummy', agent: DUMMY, action, params });
    expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING);
    const start = await run('start');
    expect(start).toMatchObject({
      rc: OcfRc.SUCCESS,
      execStatus: ExecStatus.done,
      operationKey: 'dummy_start_0',
    });
    expect((await run('monitor')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('stop')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING);
    expect(runner.history('dummy')?.operations.map((o) => o.action)).toEqual([
      'start',
      'stop',
      'monitor',
    ]);
  });

  test('meta-data is parsed into a typed description', async () => {
    await using runner = new AgentRunner();
    const md = await runner.metaData(DUMMY);
    expect(md.name).toBe('Dummy');
    const state = md.parameters.find((p) => p.name === 'state');
    expect(state).toMatchObject({ type: 'string', required: false, unique: true });
    expect(state?.default).toMatch(/Dummy/);
    const start = md.actions.find((a) => a.name === 'start');
    expect(start?.timeout).toBe(20_000);
    expect(md.actions.find((a) => a.name === 'monitor')?.interval).toBe(10_000);
  });

  test('discovery lists classes, providers and agents', async () => {
    await using runner = new AgentRunner();
    expect(await runner.listClasses()).toEqual(expect.arrayContaining(['ocf', 'lsb']));
    expect(await runner.listProviders()).toEqual(
      expect.arrayContaining(['heartbeat', 'pacemaker']),
    );
    expect(await runner.listAgents('ocf', 'heartbeat')).toEqual(
      expect.arrayContaining(['Dummy', 'IPaddr2']),
    );
  });

  test('the full OCF environment reaches the agent, with meta timeout/interval in ms', async () => {
    await using runner = new AgentRunner({
      ocfRoot: box.ocfRoot,
      env: { PATH: process.env.PATH, OCF_ROOT: '/wrong' },
    });
    const out = join(box.dir, 'env');
    const r = await runner.execute({
      resourceId: 'e1',
      agent: 'ocf:test:envdump',
      action: 'monitor',
      params: { out, rc: '0' },
      meta: { 'target-role': 'Started', notify: 'true' },
      timeout: 7000,
    });
    expect(r.rc).toBe(OcfRc.SUCCESS);
    const env = await envOf(`${out}.monitor`);
    expect(env).toMatchObject({
      OCF_ROOT: box.ocfRoot,
      OCF_RA_VERSION_MAJOR: '1',
      OCF_RESOURCE_INSTANCE: 'e1',
      OCF_RESOURCE_TYPE: 'envdump',
      OCF_RESOURCE_PROVIDER: 'test',
      OCF_RESKEY_out: out,
      OCF_RESKEY_CRM_meta_target_role: 'Started',
      OCF_RESKEY_CRM_meta_notify: 'true',
      OCF_RESKEY_CRM_meta_timeout: '7000',
      OCF_RESKEY_CRM_meta_interval: '0',
    });
    expect(env.OCF_EXIT_REASON_PREFIX).toBeTruthy();
  });

  test.each([
    ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 190, 191].map((c) => [c, c] as const),
    [42, OcfRc.ERR_GENERIC] as const,
    [255, OcfRc.ERR_GENERIC] as const,
  ])('exit status %d is reported as rc %d', async (code, rc) => {
    await using runner = new AgentRunner({ ocfRoot: box.ocfRoot });
    const r = await runner.execute({
      resourceId: `rc${code}`,
      agent: 'ocf:test:envdump',
      action: 'start',
      params: { out: join(box.dir, `rc${code}`), rc: String(code) },
    });
    expect(r).toMatchObject({ rc, exitCode: code, execStatus: ExecStatus.done });
  });

  test('the exit reason comes from the ocf-exit-reason line', async () => {
    await using runner = new AgentRunner({ ocfRoot: box.ocfRoot });
    const r = await runner.execute({
      resourceId: 'why',
      agent: 'ocf:test:envdump',
      action: 'start',
      params: { out: join(box.dir, 'why'), rc: '6', reason: 'config file /etc/x is missing' },
    });
    expect(r).toMatchObject({
      rc: OcfRc.ERR_CONFIGURED,
      exitReason: 'config file /etc/x is missing',
    });
  });

  test('a missing agent is "not installed", not an exception', async () => {
    await using runner = new AgentRunner({ ocfRoot: box.ocfRoot });
    const r = await runner.execute({ resourceId: 'x', agent: 'ocf:test:nope', action: 'start' });
    expect(r).toMatchObject({ rc: OcfRc.ERR_INSTALLED, execStatus: ExecStatus.notInstalled });
  });

  test('a timeout kills the whole process group and leaves nothing behind', async () => {
    const secs = uniqueSeconds();
    const marker = `sleep ${secs}`;
    await using runner = new AgentRunner({ ocfRoot: box.ocfRoot });
    const r = await runner.execute({
      resourceId: 'h1',
      agent: 'ocf:test:hang',
      action: 'start',
      params: { secs },
      timeout: 300,
    });
    expect(r).toMatchObject({ execStatus: ExecStatus.timedOut, rc: OcfRc.ERR_GENERIC });
    expect(r.exitReason).toMatch(/300/);
    expect(processesWith(marker)).toEqual([]);
  });

  test('an AbortSignal cancels a running operation and kills its processes', async () => {
    const secs = uniqueSeconds();
    const marker = `sleep ${secs}`;
    await using runner = new AgentRunner({ ocfRoot: box.ocfRoot });
    const ac = new AbortController();
    const pending = runner.submit(
      {
        resourceId: 'h2',
        agent: 'ocf:test:hang',
        action: 'start',
        params: { secs },
        timeout: 60_000,
      },
      { signal: ac.signal },
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(processesWith(marker).length).toBeGreaterThan(0);
    ac.abort();
    expect((await pending.result).execStatus).toBe(ExecStatus.cancelled);
    expect(processesWith(marker)).toEqual([]);
  });

  test('close() kills running agents', async () => {
    const secs = uniqueSeconds();
    const marker = `sleep ${secs}`;
    const runner = new AgentRunner({ ocfRoot: box.ocfRoot });
    const pending = runner.submit({
      resourceId: 'h3',
      agent: 'ocf:test:hang',
      action: 'start',
      params: { secs },
    });
    await new Promise((r) => setTimeout(r, 200));
    await runner.close();
    expect((await pending.result).execStatus).toBe(ExecStatus.cancelled);
    expect(processesWith(marker)).toEqual([]);
  });

  test('operations of one resource run one at a time, in order', async () => {
    await using runner = new AgentRunner();
    const params = { state: join(box.dir, 'serial.state') };
    const ops = ['start', 'monitor', 'stop', 'monitor'].map(
      (action) => runner.submit({ resourceId: 'serial', agent: DUMMY, action, params }).result,
    );
    const results = await Promise.all(ops);
    expect(results.map((r) => r.rc)).toEqual([0, 0, 0, 7]);
    for (let i = 1; i < results.length; i++) {
      expect(results[i]!.startTime).toBeGreaterThanOrEqual(
        results[i - 1]!.startTime + results[i - 1]!.runTime - 2,
      );
    }
  });

  test('a recurring monitor reports its first result and every change', async () => {
    await using runner = new AgentRunner();
    const params = { state: join(box.dir, 'rec.state') };
    await runner.execute({ resourceId: 'rec', agent: DUMMY, action: 'start', params });
    const op = runner.recur({
      resourceId: 'rec',
      agent: DUMMY,
      action: 'monitor',
      interval: 100,
      params,
    });
    const it = op.results();
    expect((await it.next()).value).toMatchObject({
      rc: 0,
      interval: 100,
      operationKey: 'rec_monitor_100',
    });
    // Make the resource fail behind the runner's back: the next change is reported.
    await rm(params.state);
    expect((await it.next()).value).toMatchObject({ rc: OcfRc.NOT_RUNNING });
    expect(op.cancel()).toBe(true);
    expect((await it.next()).value).toMatchObject({ execStatus: ExecStatus.cancelled });
    expect((await it.next()).done).toBe(true);
  });

  test('malformed requests are rejected with errors naming the field', async () => {
    await using runner = new AgentRunner();
    expect(() => runner.submit({ resourceId: 'a b', agent: DUMMY, action: 'start' })).toThrow(
      InvalidRequestError,
    );
    expect(() =>
      runner.submit({
        resourceId: 'a',
        agent: DUMMY,
        action: 'start',
        params: { 'bad-name': 'x' },
      }),
    ).toThrow(InvalidParameterError);
    expect(() =>
      runner.submit({ resourceId: 'a', agent: DUMMY, action: 'start', timeout: -1 }),
    ).toThrow(/timeout/);
    expect(() => runner.submit({ resourceId: 'a', agent: 'ocf:Dummy', action: 'start' })).toThrow(
      /provider/,
    );
  });
});
