import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FENCE_AGENT_DIR,
  Fencer,
  clusterProcesses,
  freePort,
  killCluster,
  parseTransitionGraph,
  spawnRemoted,
} from '../src';
import type { LocalDaemon } from '../src';
import { oneNodeCluster } from './in-process-node';

const KEY = randomBytes(64);
const CLUSTER = `fencing-${randomUUID()}`;
let dir: string;
const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  killCluster(CLUSTER);
  await rm(dir, { recursive: true, force: true });
});

test('fence_remora kills a machine (every process marked with its name) and empties its run directory', async () => {
  dir = await mkdtemp(join(tmpdir(), 'remora-ctl-fence-'));
  const keyFile = join(dir, 'authkey');
  await writeFile(keyFile, KEY, { mode: 0o400 });
  const runDir = join(dir, 'machines');
  const d = await spawnRemoted({
    name: 'm1',
    listen: `127.0.0.1:${await freePort()}`,
    keyFile,
    stateDir: join(runDir, 'm1'),
    cluster: CLUSTER,
  });
  await writeFile(join(runDir, 'm1', 'leftover'), 'x');
  const fencer = new Fencer(FENCE_AGENT_DIR);
  const device = {
    id: 'f',
    agent: 'fence_remora',
    params: { run_dir: runDir, cluster: CLUSTER },
    node: 'node1',
  };
  expect((await fencer.run(device, 'status', 'm1')).rc).toBe(0);
  expect((await fencer.run(device, 'monitor')).rc).toBe(0);
  await expect(fencer.fence('m1', 'off')).rejects.toThrow(/no started fence device/);
  fencer.register(device);
  const done = await fencer.fence('m1', 'off');
  expect(done.device).toBe('f');
  await d.exited;
  expect(existsSync(join(runDir, 'm1', 'leftover'))).toBe(false);
  expect((await fencer.run(device, 'status', 'm1')).rc).toBe(2);
  // A device limited by pcmk_host_list does not fence other nodes.
  fencer.register({ ...device, id: 'g', params: { ...device.params, pcmk_host_list: 'm2 m3' } });
  expect(fencer.devicesFor('m3').map((x) => x.id)).toEqual(['f', 'g']);
  fencer.unregister('f', 'node1');
  expect(fencer.devicesFor('m1')).toEqual([]);
  expect(() => fencer.agentPath('../../bin/sh')).toThrow(/not a fence agent name/);
});

test('a frozen remote node (SIGSTOP) is fenced through fence_remora and comes back with its service', async () => {
  const keyFile = join(dir, 'authkey');
  const runDir = join(dir, 'machines');
  const port = await freePort();
  const remoteState = join(runDir, 'rnode1');
  // The remote machine's "firmware": it boots again after being powered off.
  let remote: LocalDaemon;
  let stopping = false;
  const boot = async (): Promise<void> => {
    remote = await spawnRemoted({
      name: 'rnode1',
      listen: `127.0.0.1:${port}`,
      keyFile,
      stateDir: remoteState,
      cluster: CLUSTER,
    });
    void remote.exited.then(() => (stopping ? undefined : boot()));
  };
  await boot();
  cleanup.push(async () => {
    stopping = true;
    await remote.stop();
  });
  const firstPid = remote!.pid;
  const cib = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="true"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive class="stonith" id="fence1" type="fence_remora"><instance_attributes id="f-ia"><nvpair id="f-rd" name="run_dir" value="${runDir}"/><nvpair id="f-cl" name="cluster" value="${CLUSTER}"/></instance_attributes><operations><op id="f-mon" name="monitor" interval="10s"/></operations></primitive>
      <primitive class="ocf" id="rnode1" provider="pacemaker" type="remote"><instance_attributes id="rn-ia"><nvpair id="rn-s" name="server" value="127.0.0.1"/><nvpair id="rn-p" name="port" value="${port}"/></instance_attributes><operations><op id="rn-mon" name="monitor" interval="5s"/><op id="rn-start" name="start" interval="0" timeout="15s"/></operations></primitive>
      <primitive class="ocf" id="svc" provider="heartbeat" type="Dummy"><operations><op id="svc-mon" name="monitor" interval="2s"/></operations></primitive>
    </resources>
    <constraints><rsc_location id="svc-on-remote" rsc="svc" node="rnode1" score="INFINITY"/><rsc_location id="svc-not-1" rsc="svc" node="node1" score="-INFINITY"/></constraints>
  </configuration>
  <status><node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/></status>
</cib>
`;
  const fenced: string[] = [];
  const { store, scheduler, controller } = await oneNodeCluster(dir, KEY, cib, cleanup, {
    fenceAgentDir: FENCE_AGENT_DIR,
  });
  const feed = new AbortController();
  cleanup.push(async () => feed.abort());
  void (async () => {
    for await (const c of store.changes(feed.signal))
      if (/fenced by/.test(c.reason))
        fenced.push(`${c.reason} ${/node_fenced="1"/.test(store.xml)}`);
  })();
  await controller.idle(AbortSignal.timeout(30_000));
  expect(parseTransitionGraph(await scheduler.schedule(store.xml)).synapses).toHaveLength(0);
  expect(existsSync(join(remoteState, 'Dummy-svc.state'))).toBe(true);
  expect(store.xml).toMatch(/fence1_monitor_10000/);

  process.kill(firstPid, 'SIGSTOP');
  const t = Date.now();
  while (fenced.length === 0) {
    if (Date.now() - t > 15_000) throw new Error('rnode1 was not fenced');
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(fenced).toEqual(['controller: rnode1 fenced by fence1 true']);
  await controller.idle(AbortSignal.timeout(45_000));
  expect(parseTransitionGraph(await scheduler.schedule(store.xml)).synapses).toHaveLength(0);
  // The frozen process is gone (powered off), the machine booted again and runs the service.
  expect(existsSync(`/proc/${firstPid}`)).toBe(false);
  expect(remote!.pid).not.toBe(firstPid);
  expect(existsSync(join(remoteState, 'Dummy-svc.state'))).toBe(true);
  expect(store.xml).toMatch(/<node_state id="rnode1"[^>]*node_fenced="0"/);
  stopping = true;
  await remote!.stop();
  expect(clusterProcesses(CLUSTER)).toEqual([]);
}, 90_000);
