import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemoteClient } from '@remora/remote-transport';
import { OpStatus, RemoteNodeExecutor, freePort, spawnRemoted } from '../src';
import type { GraphAction, LocalDaemon } from '../src';

const KEY = randomBytes(64);
let dir: string;
let daemon: LocalDaemon | undefined;

afterAll(async () => {
  await daemon?.stop(0);
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
  daemon = await spawnRemoted({
    name: 'guest1',
    listen: `127.0.0.1:${port}`,
    keyFile,
    stateDir: join(dir, 'guest1'),
  });
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
  await daemon.stop();
}, 30_000);
