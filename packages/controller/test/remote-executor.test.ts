import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RemoteClient } from '@remora/remote-transport';
import { OpStatus, RemoteNodeExecutor } from '../src';
import type { GraphAction } from '../src';

const remora = resolve(__dirname, '../../../node_modules/.bin/remora');
const KEY = randomBytes(64);
let dir: string;
let daemon: ChildProcess | undefined;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

afterAll(async () => {
  if (daemon && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function action(operation: string, interval = 0, targetRc = 0): GraphAction {
  return {
    id: 1,
    kind: 'rsc_op',
    operation,
    operationKey: `svc_${operation}_${interval}`,
    onNode: 'guest1',
    resource: { id: 'svc', class: 'ocf', provider: 'heartbeat', type: 'Dummy' },
    attributes: { CRM_meta_timeout: '20000', CRM_meta_interval: String(interval), fake: 'v' },
    interval,
    timeout: 20_000,
    targetRc,
    priority: 0,
    downed: [],
    maintenance: [],
  };
}

test('graph actions run on a real `remora remoted` process through RemoteNodeExecutor', async () => {
  dir = await mkdtemp(join(tmpdir(), 'remora-ctl-rx-'));
  const keyFile = join(dir, 'authkey');
  await writeFile(keyFile, KEY, { mode: 0o400 });
  const port = await freePort();
  daemon = spawn(
    remora,
    [
      'remoted',
      '-l',
      `127.0.0.1:${port}`,
      '-k',
      keyFile,
      '-n',
      'guest1',
      '--local-socket',
      join(dir, 'g.sock'),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HA_RSCTMP: dir } },
  );
  let err = '';
  daemon.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const end = Date.now() + 15_000;
  while (!err.includes('serving')) {
    if (Date.now() > end) throw new Error(`daemon did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await using client = await RemoteClient.connect({ address: `127.0.0.1:${port}`, authKey: KEY });
  const x = new RemoteNodeExecutor(client);
  expect(client.nodeName).toBe('guest1');
  const probe = await x.execute(action('monitor', 0, 7));
  expect(probe).toMatchObject({ rc: 7, opStatus: OpStatus.done });
  const start = await x.execute(action('start'));
  expect(start).toMatchObject({ rc: 0, opStatus: OpStatus.done });
  expect(start.callId).toBeGreaterThan(probe.callId);
  const mon = await x.execute(action('monitor', 500));
  expect(mon).toMatchObject({ rc: 0, opStatus: OpStatus.done });
  expect(await x.cancel('svc', 'monitor', 500)).toBe(true);
  const stop = await x.execute(action('stop'));
  expect(stop.rc).toBe(0);
  const missing = await x.execute({
    ...action('start'),
    resource: { id: 'nope', class: 'ocf', provider: 'heartbeat', type: 'NoSuchAgent' },
  });
  expect(missing).toMatchObject({ rc: 5, opStatus: OpStatus.notInstalled });
  await client.close();
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon!.once('exit', r));
}, 30_000);
