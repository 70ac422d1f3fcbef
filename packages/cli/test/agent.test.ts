import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExitCode } from '../src';
import { runRemora } from './run-remora';

describe('remora agent (real agents from resource-agents)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'remora-cli-agent-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test('list shows classes, providers and agents', async () => {
    expect((await runRemora(['agent', 'list'])).stdout.split('\n')).toEqual(
      expect.arrayContaining(['ocf', 'lsb']),
    );
    expect((await runRemora(['agent', 'list', 'providers'])).stdout).toMatch(/^heartbeat$/m);
    const agents = JSON.parse(
      (await runRemora(['agent', 'list', 'ocf:pacemaker', '--output-as', 'json'])).stdout,
    );
    expect(agents).toEqual(expect.arrayContaining(['Dummy', 'Stateful', 'remote']));
  });

  test('run exits with the agent rc through start, monitor and stop', async () => {
    const state = `state=${path.join(dir, 'd.state')}`;
    const run = (action: string) =>
      runRemora(['agent', 'run', 'ocf:heartbeat:Dummy', action, '-p', state]);
    expect((await run('monitor')).code).toBe(7);
    const start = await run('start');
    expect(start.code).toBe(0);
    expect(start.stderr).toMatch(/remora-cli_start_0: rc=0 \(ok\) done/);
    expect((await run('monitor')).code).toBe(0);
    expect((await run('stop')).code).toBe(0);
  });

  test('run --output-as json prints the typed result', async () => {
    const r = await runRemora([
      'agent',
      'run',
      'ocf:heartbeat:Dummy',
      'monitor',
      '-p',
      `state=${path.join(dir, 'j.state')}`,
      '-r',
      'web',
      '--output-as',
      'json',
    ]);
    expect(JSON.parse(r.stdout)).toMatchObject({
      operationKey: 'web_monitor_0',
      rc: 7,
      execStatus: 'done',
    });
  });

  test('a timeout exits 124 and leaves no pseudo-resource state behind', async () => {
    const rsc = `cli-delay-${process.pid}`;
    const delay = (action: string, timeout: string) =>
      runRemora([
        'agent',
        'run',
        'ocf:heartbeat:Delay',
        action,
        '-r',
        rsc,
        '-p',
        'startdelay=30',
        '-p',
        'stopdelay=0',
        '-t',
        timeout,
      ]);
    const r = await delay('start', '300ms');
    expect(r.code).toBe(ExitCode.TIMEOUT);
    expect(r.stderr).toMatch(/timed out after 300ms/);
    expect((await delay('stop', '20s')).code).toBe(0);
  });

  test('meta-data prints the agent XML, or JSON', async () => {
    expect((await runRemora(['agent', 'meta-data', 'ocf:heartbeat:Dummy'])).stdout).toMatch(
      /<resource-agent name="Dummy"/,
    );
    const md = JSON.parse(
      (await runRemora(['agent', 'meta-data', 'ocf:heartbeat:Dummy', '--output-as', 'json']))
        .stdout,
    );
    expect(md.parameters.map((p: { name: string }) => p.name)).toContain('state');
  });

  test('bad input gets one clear line and a stable exit code', async () => {
    const badParam = await runRemora([
      'agent',
      'run',
      'ocf:heartbeat:Dummy',
      'start',
      '-p',
      'bad-name=1',
    ]);
    expect(badParam.code).toBe(ExitCode.INVALID_PARAM);
    expect(badParam.stderr).toMatch(/^remora: invalid parameter 'bad-name'/);
    const notPair = await runRemora([
      'agent',
      'run',
      'ocf:heartbeat:Dummy',
      'start',
      '-p',
      'novalue',
    ]);
    expect(notPair.code).toBe(ExitCode.USAGE);
    const missing = await runRemora(['agent', 'meta-data', 'ocf:nope:nope']);
    expect(missing.code).toBe(ExitCode.NOT_INSTALLED);
    expect(missing.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    const badClass = await runRemora(['agent', 'list', 'nosuch']);
    expect(badClass.code).toBe(ExitCode.INVALID_PARAM);
  });
});
