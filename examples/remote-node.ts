// A cluster node (in-process executor) and a remote node (a real `remora remoted`
// process) driven by the remora controller: the service is placed on the remote
// node; then the remote daemon is killed (kill -9) and restarted, and the
// controller detects the loss and recovers. Scheduler: Pacemaker's own
// (crm_simulate).
// Run: npx ts-node examples/remote-node.ts
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CibStore } from '@remora/cib';
import {
  Controller,
  CrmSimulateScheduler,
  RemoteNodeExecutor,
  freePort,
  spawnRemoted,
} from '@remora/controller';
import type { LocalDaemon } from '@remora/controller';
import { RemoteClient, RemoteDaemon } from '@remora/remote-transport';

function startRemote(port: number, dir: string, keyFile: string): Promise<LocalDaemon> {
  return spawnRemoted({
    name: 'rnode1',
    listen: `127.0.0.1:${port}`,
    keyFile,
    stateDir: join(dir, 'rnode1'),
  });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'remora-example-'));
  const key = randomBytes(64);
  const keyFile = join(dir, 'authkey');
  await writeFile(keyFile, key, { mode: 0o400 });
  await mkdir(join(dir, 'rnode1'));
  await mkdir(join(dir, 'node1'));
  const port = await freePort();
  let remote = await startRemote(port, dir, keyFile);
  const node1 = await RemoteDaemon.start({
    listen: '127.0.0.1:0',
    authKey: key,
    nodeName: 'node1',
    localSocket: join(dir, 'node1.sock'),
    runner: { env: { ...process.env, HA_RSCTMP: join(dir, 'node1') } },
  });
  const client = await RemoteClient.connect({ address: node1.address, authKey: key });
  const store = await CibStore.open(undefined, {
    initial: `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive class="ocf" id="rnode1" provider="pacemaker" type="remote"><instance_attributes id="rn-ia"><nvpair id="rn-s" name="server" value="127.0.0.1"/><nvpair id="rn-p" name="port" value="${port}"/></instance_attributes><operations><op id="rn-mon" name="monitor" interval="5s"/></operations></primitive>
      <primitive class="ocf" id="web" provider="heartbeat" type="Dummy"><operations><op id="web-mon" name="monitor" interval="2s"/></operations></primitive>
    </resources>
    <constraints><rsc_location id="web-on-remote" rsc="web" node="rnode1" score="INFINITY"/><rsc_location id="web-not-1" rsc="web" node="node1" score="-INFINITY"/></constraints>
  </configuration>
  <status><node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/></status>
</cib>
`,
  });
  const controller = Controller.start({
    store,
    scheduler: new CrmSimulateScheduler(),
    executors: new Map([['node1', new RemoteNodeExecutor(client)]]),
    authKey: key,
    onTransition: (r) =>
      console.log(
        `transition ${r.transitionId}: ${r.status}, ${r.confirmed} actions in ${r.elapsedMs} ms`,
      ),
  });
  try {
    let t = Date.now();
    await controller.idle(AbortSignal.timeout(30_000));
    console.log(
      `converged in ${Date.now() - t} ms; web running on rnode1: ${existsSync(join(dir, 'rnode1', 'Dummy-web.state'))}`,
    );
    t = Date.now();
    remote.child.kill('SIGKILL');
    while (!store.xml.includes('rnode1_last_failure_0'))
      await new Promise((r) => setTimeout(r, 10));
    console.log(`kill -9 of rnode1's daemon detected in ${Date.now() - t} ms`);
    remote = await startRemote(port, dir, keyFile);
    await controller.idle(AbortSignal.timeout(60_000));
    console.log(
      `recovered ${Date.now() - t} ms after the kill; web running on rnode1: ${existsSync(join(dir, 'rnode1', 'Dummy-web.state'))}`,
    );
  } finally {
    await controller.close();
    await client.close();
    await node1.close();
    await store.close();
    await remote.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
