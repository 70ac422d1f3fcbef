import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CibStore } from '@remora/cib';
import { Controller, CrmSimulateScheduler, RemoteNodeExecutor } from '@remora/controller';
import type { NodeExecutor } from '@remora/controller';
import { RemoteClient, RemoteDaemon } from '@remora/remote-transport';
import { remoraBin } from './run-remora';

/**
 * A running cluster for end-to-end tests of the operator commands: the
 * controller in this process (Pacemaker's scheduler through crm_simulate),
 * cluster nodes node1 and node2 as remote daemons in this process (each with
 * its local CLI socket), a guest node guest1 that is a real `remora remoted`
 * process started by the ocf:remora:guest-daemon agent (vm1), and a remote
 * node remote1, a real `remora remoted` process the test starts (connection
 * resource remote1). Services: svc-guest (Dummy, prefers guest1), svc-node
 * (Dummy, cluster nodes only, prefers node1), svc-remote (Dummy on
 * remote1), slow (Dummy taking 1 s per operation), group web (web-ip, web-srv on cluster nodes), an anonymous clone
 * ping-clone and a promotable clone db-clone (ocf:pacemaker:Stateful), both
 * on the two cluster nodes.
 */
export interface TestCluster {
  readonly dir: string;
  readonly store: CibStore;
  readonly controller: Controller;
  /** Local CLI socket of each node (node1, node2, guest1). */
  readonly sockets: Readonly<Record<string, string>>;
  /** Nodes on which a Dummy resource's state file exists. */
  where(rsc: string): string[];
  close(): Promise<void>;
}

/**
 * These tests are about the operator commands, not failure detection: a
 * node counts as lost after 10 s of silence (not the default 1.5 s), so a
 * loaded CI machine does not make the controller recover a healthy guest
 * in the middle of a test.
 */
const DEAD_AFTER_MS = 10_000;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function startRemoted(
  port: number,
  keyFile: string,
  state: string,
  socket: string,
): Promise<ChildProcess> {
  const child = spawn(
    remoraBin,
    [
      'remoted',
      '-l',
      `127.0.0.1:${port}`,
      '-k',
      keyFile,
      '-n',
      'remote1',
      '--local-socket',
      socket,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HA_RSCTMP: state } },
  );
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const end = Date.now() + 15_000;
  while (!err.includes('serving')) {
    if (Date.now() > end || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`remora remoted did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
}

export async function startTestCluster(): Promise<TestCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'remora-cli-e2e-'));
  const cleanup: (() => Promise<void>)[] = [];
  const guestTmp = join(dir, 'guest1');
  const close = async (): Promise<void> => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    const pidFile = `${guestTmp}.pid`;
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8'));
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ocf = join(dir, 'ocf');
    await mkdir(join(ocf, 'resource.d'), { recursive: true });
    await symlink('/usr/lib/ocf/lib', join(ocf, 'lib'));
    await symlink('/usr/lib/ocf/resource.d/heartbeat', join(ocf, 'resource.d', 'heartbeat'));
    await symlink('/usr/lib/ocf/resource.d/pacemaker', join(ocf, 'resource.d', 'pacemaker'));
    await symlink(
      resolve(__dirname, '../../controller/agents/remora'),
      join(ocf, 'resource.d', 'remora'),
    );
    const key = randomBytes(64);
    const keyFile = join(dir, 'authkey');
    await writeFile(keyFile, key, { mode: 0o400 });
    const executors = new Map<string, NodeExecutor>();
    const sockets: Record<string, string> = {
      guest1: `${guestTmp}.sock`,
      remote1: join(dir, 'remote1.sock'),
    };
    for (const node of ['node1', 'node2']) {
      const state = join(dir, node);
      await mkdir(state);
      sockets[node] = join(dir, `${node}.sock`);
      const daemon = await RemoteDaemon.start({
        listen: '127.0.0.1:0',
        authKey: key,
        nodeName: node,
        localSocket: sockets[node],
        runner: { ocfRoot: ocf, env: { ...process.env, HA_RSCTMP: state, HA_VARRUN: state } },
      });
      cleanup.push(() => daemon.close());
      const client = await RemoteClient.connect({
        address: daemon.address,
        authKey: key,
        deadAfterMs: DEAD_AFTER_MS,
      });
      cleanup.push(() => client.close());
      executors.set(node, new RemoteNodeExecutor(client));
    }
    const port = await freePort();
    const remotePort = await freePort();
    const remoteTmp = join(dir, 'remote1');
    await mkdir(remoteTmp);
    const remote = await startRemoted(remotePort, keyFile, remoteTmp, sockets.remote1!);
    cleanup.push(async () => {
      remote.kill('SIGTERM');
      if (remote.exitCode === null) await new Promise((r) => remote.once('exit', r));
    });
    const cluster = `<rule id="%-cluster" score="-INFINITY"><expression id="%-cluster-e" attribute="#kind" operation="ne" value="cluster"/></rule>`;
    const clusterOnly = (rsc: string): string =>
      `<rsc_location id="${rsc}-cluster-only" rsc="${rsc}" resource-discovery="never">${cluster.replace(/%/g, `${rsc}-cluster-only`)}</rsc_location>`;
    const nv = (id: string, n: string, v: string): string =>
      `<nvpair id="${id}-${n}" name="${n}" value="${v}"/>`;
    const cib = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="cib-bootstrap-options">${nv('opts', 'stonith-enabled', 'false')}</cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
    <resources>
      <primitive class="ocf" id="vm1" provider="remora" type="guest-daemon">
        <instance_attributes id="vm1-ia">${nv('vm1', 'name', 'guest1')}${nv('vm1', 'listen', `127.0.0.1:${port}`)}${nv('vm1', 'authkey', keyFile)}${nv('vm1', 'remora', remoraBin)}${nv('vm1', 'rsctmp', guestTmp)}</instance_attributes>
        <meta_attributes id="vm1-meta">${nv('vm1', 'remote-node', 'guest1')}${nv('vm1', 'remote-addr', '127.0.0.1')}${nv('vm1', 'remote-port', String(port))}${nv('vm1', 'remote-connect-timeout', '15s')}</meta_attributes>
        <operations><op id="vm1-mon" name="monitor" interval="10s"/></operations>
      </primitive>
      <primitive class="ocf" id="svc-guest" provider="heartbeat" type="Dummy"><operations><op id="svc-guest-mon" name="monitor" interval="5s"/></operations></primitive>
      <primitive class="ocf" id="svc-node" provider="heartbeat" type="Dummy"><operations><op id="svc-node-mon" name="monitor" interval="5s"/></operations></primitive>
      <primitive class="ocf" id="remote1" provider="pacemaker" type="remote"><instance_attributes id="remote1-ia">${nv('remote1', 'server', '127.0.0.1')}${nv('remote1', 'port', String(remotePort))}</instance_attributes><operations><op id="remote1-mon" name="monitor" interval="5s"/></operations></primitive>
      <primitive class="ocf" id="svc-remote" provider="heartbeat" type="Dummy"><operations><op id="svc-remote-mon" name="monitor" interval="5s"/></operations></primitive>
      <primitive class="ocf" id="slow" provider="pacemaker" type="Dummy"><instance_attributes id="slow-ia">${nv('slow', 'op_sleep', '1')}</instance_attributes></primitive>
      <group id="web">
        <primitive class="ocf" id="web-ip" provider="heartbeat" type="Dummy"/>
        <primitive class="ocf" id="web-srv" provider="heartbeat" type="Dummy"/>
      </group>
      <clone id="ping-clone"><primitive class="ocf" id="ping" provider="heartbeat" type="Dummy"/></clone>
      <clone id="db-clone">
        <meta_attributes id="db-clone-meta">${nv('db-clone', 'promotable', 'true')}${nv('db-clone', 'promoted-max', '1')}</meta_attributes>
        <primitive class="ocf" id="db" provider="pacemaker" type="Stateful"></primitive>
      </clone>
    </resources>
    <constraints>
      <rsc_location id="svc-guest-prefers" rsc="svc-guest" node="guest1" score="100"/>
      <rsc_location id="vm1-prefers" rsc="vm1" node="node2" score="100"/>
      <rsc_location id="svc-node-prefers" rsc="svc-node" node="node1" score="50"/>
      <rsc_location id="svc-remote-on-remote1" rsc="svc-remote" node="remote1" score="INFINITY"/>
      ${clusterOnly('vm1')}
      ${clusterOnly('svc-node')}
      ${clusterOnly('web')}
      ${clusterOnly('slow')}
      ${clusterOnly('ping-clone')}
      ${clusterOnly('db-clone')}
      <rsc_location id="web-prefers" rsc="web" node="node1" score="10"/>
    </constraints>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
    <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>
`;
    const store = await CibStore.open(undefined, { initial: cib });
    cleanup.push(() => store.close());
    const controller = Controller.start({
      store,
      scheduler: new CrmSimulateScheduler(),
      executors,
      authKey: key,
      connectionDeadAfterMs: DEAD_AFTER_MS,
    });
    cleanup.push(() => controller.close());
    await controller.idle(AbortSignal.timeout(30_000));
    const where = (rsc: string): string[] =>
      ['node1', 'node2', 'guest1', 'remote1'].filter((n) =>
        existsSync(join(n === 'guest1' ? guestTmp : join(dir, n), `Dummy-${rsc}.state`)),
      );
    return { dir, store, controller, sockets, where, close };
  } catch (err) {
    await close();
    throw err;
  }
}
