import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, parseTransitionGraph, spawnRemoted } from '../src';
import type { LocalDaemon } from '../src';
import { oneNodeCluster } from './in-process-node';

const KEY = randomBytes(64);
let dir: string;
const cleanup: (() => Promise<void>)[] = [];
const daemons = new Set<LocalDaemon>();
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  for (const d of daemons) await d.stop(0);
  await rm(dir, { recursive: true, force: true });
});

async function remoteDaemon(port: number, keyFile: string, state: string): Promise<LocalDaemon> {
  const d = await spawnRemoted({
    name: 'rnode1',
    listen: `127.0.0.1:${port}`,
    keyFile,
    stateDir: state,
  });
  daemons.add(d);
  return d;
}

test('a remote node (real remora remoted process): connection started by the controller, service placed on it; kill -9 detected in < 2 s and recovered after restart', async () => {
  dir = await mkdtemp(join(tmpdir(), 'remora-ctl-remote-'));
  const keyFile = join(dir, 'authkey');
  await writeFile(keyFile, KEY, { mode: 0o400 });
  const port = await freePort();
  const remoteState = join(dir, 'rnode1');
  await mkdir(remoteState);
  let remote = await remoteDaemon(port, keyFile, remoteState);
  const cib = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive class="ocf" id="rnode1" provider="pacemaker" type="remote"><instance_attributes id="rn-ia"><nvpair id="rn-s" name="server" value="127.0.0.1"/><nvpair id="rn-p" name="port" value="${port}"/></instance_attributes><operations><op id="rn-mon" name="monitor" interval="5s"/></operations></primitive>
      <primitive class="ocf" id="svc" provider="heartbeat" type="Dummy"><operations><op id="svc-mon" name="monitor" interval="2s"/></operations></primitive>
    </resources>
    <constraints><rsc_location id="svc-on-remote" rsc="svc" node="rnode1" score="INFINITY"/><rsc_location id="svc-not-1" rsc="svc" node="node1" score="-INFINITY"/></constraints>
  </configuration>
  <status><node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/></status>
</cib>
`;
  const { store, scheduler, controller } = await oneNodeCluster(dir, KEY, cib, cleanup);
  await controller.idle(AbortSignal.timeout(30_000));
  expect(parseTransitionGraph(await scheduler.schedule(store.xml)).synapses).toHaveLength(0);
  expect(existsSync(join(remoteState, 'Dummy-svc.state'))).toBe(true);
  expect(store.xml).toMatch(
    /<node_state id="rnode1" uname="rnode1" remote_node="true" in_ccm="true">/,
  );

  const killedAt = Date.now();
  remote.child.kill('SIGKILL');
  while (!/rnode1_last_failure_0/.test(store.xml)) {
    if (Date.now() - killedAt > 5000) throw new Error('connection loss not recorded');
    await new Promise((r) => setTimeout(r, 20));
  }
  const detectedMs = Date.now() - killedAt;
  expect(detectedMs).toBeLessThan(2000);
  remote = await remoteDaemon(port, keyFile, remoteState);
  await controller.idle(AbortSignal.timeout(45_000));
  expect(parseTransitionGraph(await scheduler.schedule(store.xml)).synapses).toHaveLength(0);
  expect(existsSync(join(remoteState, 'Dummy-svc.state'))).toBe(true);
  await remote.stop();
}, 90_000);
