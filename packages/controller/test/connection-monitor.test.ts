import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnRemoted } from '../src';
import type { LocalDaemon } from '../src';
import { oneNodeCluster } from './in-process-node';

// The connection resource's recurring monitor (op monitor interval=1s timeout=2s on an
// ocf:pacemaker:remote) is a safety net of its own: with the client's heartbeat watchdog
// set far beyond the test (connectionDeadAfterMs 60 s), a daemon frozen with SIGSTOP is
// still found lost, by the monitor's poke going unanswered, and recorded as its failure.
const KEY = randomBytes(64);
let dir: string;
const cleanup: (() => Promise<void>)[] = [];
let remote: LocalDaemon | undefined;
afterAll(async () => {
  remote?.child.kill('SIGCONT');
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  await remote?.stop(0);
  await rm(dir, { recursive: true, force: true });
});

test('a frozen remote daemon whose loss the watchdog does not report is found by the connection monitor', async () => {
  dir = await mkdtemp(join(tmpdir(), 'remora-ctl-conn-mon-'));
  const keyFile = join(dir, 'authkey');
  await writeFile(keyFile, KEY, { mode: 0o400 });
  const port = await freePort();
  await mkdir(join(dir, 'rnode1'));
  remote = await spawnRemoted({
    name: 'rnode1',
    listen: `127.0.0.1:${port}`,
    keyFile,
    stateDir: join(dir, 'rnode1'),
  });
  const cib = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive class="ocf" id="rnode1" provider="pacemaker" type="remote"><instance_attributes id="rn-ia"><nvpair id="rn-s" name="server" value="127.0.0.1"/><nvpair id="rn-p" name="port" value="${port}"/></instance_attributes><operations><op id="rn-mon" name="monitor" interval="1s" timeout="2s"/></operations></primitive>
    </resources>
    <constraints/>
  </configuration>
  <status><node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/></status>
</cib>
`;
  const { store, controller } = await oneNodeCluster(dir, KEY, cib, cleanup, {
    connectionDeadAfterMs: 60_000,
  });
  await controller.idle(AbortSignal.timeout(30_000));
  expect([...controller.remoteConnections().keys()]).toEqual(['rnode1']);
  expect(store.xml).toMatch(/id="rnode1_monitor_1000"[^>]*rc-code="0"/);

  const frozenAt = Date.now();
  remote.child.kill('SIGSTOP');
  const failure = (): string | undefined =>
    /<lrm_rsc_op [^>]*id="rnode1_last_failure_0"[^>]*>/.exec(store.xml)?.[0];
  while (!failure()) {
    if (Date.now() - frozenAt > 15_000) throw new Error('the frozen daemon was not detected');
    await new Promise((r) => setTimeout(r, 20));
  }
  const detectedMs = Date.now() - frozenAt;
  console.log(`connection monitor: SIGSTOP'd remote daemon found lost after ${detectedMs} ms`);
  // Found by the monitor's unanswered poke (interval 1 s + timeout 2 s), not by the watchdog.
  expect(failure()).toMatch(/operation="monitor"/);
  expect(failure()).toMatch(
    /exit-reason="[^"]*rnode1_monitor_1000 failed: [^"]*no answer to a ping within 2000 ms/,
  );
  expect(detectedMs).toBeLessThan(6000);
  expect(controller.remoteConnections().has('rnode1')).toBe(false);

  // Thawed, the scheduler's recovery connects again and the monitor runs on.
  remote.child.kill('SIGCONT');
  await controller.idle(AbortSignal.timeout(45_000));
  expect([...controller.remoteConnections().keys()]).toEqual(['rnode1']);
}, 90_000);
