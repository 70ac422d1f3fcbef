import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setResourceMeta } from '@remora/cib';
import { freePort, parseTransitionGraph, prepareOcfRoot, remoraBinary } from '../src';
import { oneNodeCluster } from './in-process-node';

const KEY = randomBytes(64);
let dir: string;
const cleanup: (() => Promise<void>)[] = [];
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
let guestPid = 0;
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  if (guestPid && alive(guestPid)) process.kill(guestPid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

test('a guest node (remora remoted launched by the ocf:remora:guest-daemon agent, no libvirt-LXC): started, service inside; kill -9 of the guest detected in < 2 s and the guest recovered; drained and back', async () => {
  dir = await mkdtemp(join(tmpdir(), 'remora-ctl-guest-'));
  const ocf = await prepareOcfRoot(dir);
  const keyFile = join(dir, 'authkey');
  await writeFile(keyFile, KEY, { mode: 0o400 });
  const port = await freePort();
  const guestTmp = join(dir, 'guest1');
  const remora = remoraBinary();
  const cib = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive class="ocf" id="vm1" provider="remora" type="guest-daemon">
        <instance_attributes id="vm1-ia"><nvpair id="vm1-n" name="name" value="guest1"/><nvpair id="vm1-l" name="listen" value="127.0.0.1:${port}"/><nvpair id="vm1-k" name="authkey" value="${keyFile}"/><nvpair id="vm1-r" name="remora" value="${remora}"/><nvpair id="vm1-t" name="rsctmp" value="${guestTmp}"/></instance_attributes>
        <meta_attributes id="vm1-meta"><nvpair id="vm1-rn" name="remote-node" value="guest1"/><nvpair id="vm1-ra" name="remote-addr" value="127.0.0.1"/><nvpair id="vm1-rp" name="remote-port" value="${port}"/><nvpair id="vm1-ct" name="remote-connect-timeout" value="15s"/></meta_attributes>
        <operations><op id="vm1-mon" name="monitor" interval="2s"/></operations>
      </primitive>
      <primitive class="ocf" id="svc" provider="heartbeat" type="Dummy"><operations><op id="svc-mon" name="monitor" interval="2s"/></operations></primitive>
    </resources>
    <constraints><rsc_location id="svc-on-guest" rsc="svc" node="guest1" score="INFINITY"/><rsc_location id="svc-not-1" rsc="svc" node="node1" score="-INFINITY"/></constraints>
  </configuration>
  <status><node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/></status>
</cib>
`;
  const { store, scheduler, controller } = await oneNodeCluster(dir, KEY, cib, cleanup, {
    runner: { ocfRoot: ocf },
    onTransition: (r, g) =>
      process.env.DEBUG_TRANSITIONS &&
      console.log(
        r.status,
        r.failed.map((f) => f.detail),
        [...g.actions.values()].map((a) => `${a.operationKey}@${a.onNode}`),
      ),
  });
  await controller.idle(AbortSignal.timeout(30_000));
  expect(parseTransitionGraph(await scheduler.schedule(store.xml)).synapses).toHaveLength(0);
  expect(existsSync(join(guestTmp, 'Dummy-svc.state'))).toBe(true);
  guestPid = Number(readFileSync(`${guestTmp}.pid`, 'utf8'));
  expect(alive(guestPid)).toBe(true);

  const killedAt = Date.now();
  process.kill(guestPid, 'SIGKILL');
  while (!/guest1_last_failure_0/.test(store.xml)) {
    if (Date.now() - killedAt > 5000) throw new Error('guest loss not recorded');
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(Date.now() - killedAt).toBeLessThan(2000);
  await controller.idle(AbortSignal.timeout(45_000));
  expect(parseTransitionGraph(await scheduler.schedule(store.xml)).synapses).toHaveLength(0);
  const newPid = Number(readFileSync(`${guestTmp}.pid`, 'utf8'));
  expect(newPid).not.toBe(guestPid);
  guestPid = newPid;
  expect(alive(guestPid)).toBe(true);
  expect(existsSync(join(guestTmp, 'Dummy-svc.state'))).toBe(true);
  // Drain (the guest asks to leave, or an operator does): its service stops, then its
  // connection; as in Pacemaker, the connection comes back unless the daemon has gone (the
  // shutdown attribute is cleared when a remote node connects).
  const reasons: string[] = [];
  // Where a change is in the feed (the controller writes results in batches joined by '; ').
  const at = (reason: string): number => reasons.findIndex((r) => r.split('; ').includes(reason));
  const feed = new AbortController();
  void (async () => {
    for await (const c of store.changes(feed.signal)) reasons.push(c.reason);
  })();
  await controller.drain('guest1');
  await controller.idle(AbortSignal.timeout(30_000));
  feed.abort();
  const svcStop = at('controller: svc_stop_0 on guest1');
  const connStop = at('controller: guest1_stop_0 on node1');
  expect(svcStop).toBeGreaterThan(0);
  expect(connStop).toBeGreaterThan(svcStop);
  expect(at('controller: svc_start_0 on guest1')).toBeGreaterThan(connStop);
  // The stopped connection took the node's transient attributes (the drain request) with it.
  expect(at('controller: guest1 disconnected')).toBeGreaterThan(svcStop);
  expect(alive(guestPid)).toBe(true);
  expect(existsSync(join(guestTmp, 'Dummy-svc.state'))).toBe(true);
  expect(store.xml).not.toMatch(/name="shutdown"/);
  // SIGTERM to the guest's daemon: it asks the controller to drain the node, the service stops
  // and the connection closes, then the daemon exits; the container (whose process is the
  // daemon) is seen stopped by its monitor and recovered with the service.
  reasons.length = 0;
  const feed2 = new AbortController();
  void (async () => {
    for await (const c of store.changes(feed2.signal)) reasons.push(c.reason);
  })();
  const termAt = Date.now();
  process.kill(guestPid, 'SIGTERM');
  while (alive(guestPid)) {
    if (Date.now() - termAt > 10_000)
      throw new Error('the guest daemon did not exit after draining');
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(readFileSync(`${guestTmp}.log`, 'utf8')).toMatch(
    /stopped \(the controller drained this node\)/,
  );
  const drained = at('operator: drain guest1 (the remote daemon is shutting down)');
  const stoppedSvc = at('controller: svc_stop_0 on guest1');

  expect(drained).toBeGreaterThanOrEqual(0);
  expect(stoppedSvc).toBeGreaterThan(drained);
  expect(at('controller: guest1_stop_0 on node1')).toBeGreaterThan(stoppedSvc);
  expect(at('controller: guest1 disconnected')).toBeGreaterThan(stoppedSvc);
  expect(reasons.some((r) => /svc_monitor_2000 on guest1/.test(r))).toBe(false);
  const pidNow = (): number =>
    existsSync(`${guestTmp}.pid`) ? Number(readFileSync(`${guestTmp}.pid`, 'utf8')) : 0;
  while (pidNow() === guestPid || pidNow() === 0 || !alive(pidNow())) {
    if (Date.now() - termAt > 20_000) throw new Error('the drained guest was not restarted');
    await new Promise((r) => setTimeout(r, 50));
  }
  await controller.idle(AbortSignal.timeout(30_000));
  feed2.abort();
  guestPid = Number(readFileSync(`${guestTmp}.pid`, 'utf8'));
  expect(alive(guestPid)).toBe(true);
  expect(existsSync(join(guestTmp, 'Dummy-svc.state'))).toBe(true);
  // Stopping the guest through the cluster leaves no process behind.
  await store.modify((doc) => setResourceMeta(doc, 'vm1', 'target-role', 'Stopped'));
  await controller.idle(AbortSignal.timeout(30_000));
  expect(store.xml).toMatch(/vm1_last_0" operation_key="vm1_stop_0"/);
  const gone = Date.now();
  while (alive(guestPid) && Date.now() - gone < 5000) await new Promise((r) => setTimeout(r, 50));
  if (alive(guestPid))
    console.log(readFileSync(`/proc/${guestPid}/status`, 'utf8').split('\n').slice(0, 8).join(' '));
  expect(alive(guestPid)).toBe(false);
  expect(existsSync(join(guestTmp, 'Dummy-svc.state'))).toBe(false);
}, 90_000);
