import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CibStore } from '@remora/cib';
import { Controller, CrmSimulateScheduler, RemoraScheduler, parseTransitionGraph } from '../src';
import type { NodeExecutor, Scheduler } from '../src';
import { inProcessNode } from './in-process-node';

const KEY = randomBytes(64);
const CIB = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
    <resources>
      <primitive class="ocf" id="a" provider="heartbeat" type="Dummy"><operations><op id="a-mon" name="monitor" interval="1s"/></operations></primitive>
      <primitive class="ocf" id="b" provider="heartbeat" type="Dummy"/>
      <primitive class="ocf" id="c" provider="heartbeat" type="Dummy"/>
    </resources>
    <constraints><rsc_order id="a-then-b" first="a" then="b"/><rsc_location id="a-on-1" rsc="a" node="node1" score="100"/></constraints>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
    <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>
`;

let dir: string;
const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

const schedulers: [string, () => Scheduler][] = [
  ['Pacemaker scheduler (crm_simulate)', () => new CrmSimulateScheduler()],
  ['remora scheduler', () => new RemoraScheduler()],
];

test.each(schedulers)(
  'embedded: the controller converges a 2-node cluster (in-process daemons, real Dummy agents, %s) and recovers a failed resource',
  async (_name, makeScheduler) => {
    dir = await mkdtemp(join(tmpdir(), 'remora-ctl-loop-'));
    const executors = new Map<string, NodeExecutor>();
    const stateDirs = new Map<string, string>();
    for (const node of ['node1', 'node2']) {
      const { executor, stateDir } = await inProcessNode(dir, node, KEY, cleanup);
      stateDirs.set(node, stateDir);
      executors.set(node, executor);
    }
    const store = await CibStore.open(undefined, { initial: CIB });
    cleanup.push(() => store.close());
    const scheduler = makeScheduler();
    if (scheduler instanceof RemoraScheduler) cleanup.push(() => scheduler.close());
    const controller = Controller.start({ store, scheduler, executors });
    cleanup.push(() => controller.close());
    await controller.idle(AbortSignal.timeout(30_000));
    // Both schedulers read our status: nothing to do.
    expect(parseTransitionGraph(await scheduler.schedule(store.xml)).synapses).toHaveLength(0);
    expect(
      parseTransitionGraph(await new CrmSimulateScheduler().schedule(store.xml)).synapses,
    ).toHaveLength(0);
    const aState = join(stateDirs.get('node1')!, 'Dummy-a.state');
    expect(existsSync(aState)).toBe(true);
    for (const r of ['b', 'c']) {
      const where = [...stateDirs.values()].filter((d) => existsSync(join(d, `Dummy-${r}.state`)));
      expect(where).toHaveLength(1);
    }
    // Fault: a stops behind the cluster's back; its 1 s monitor sees it, the controller recovers it.
    const before = controller.transitions;
    await unlink(aState);
    const faultAt = Date.now();
    while (!store.xml.includes('a_last_failure_0')) {
      if (Date.now() - faultAt > 10_000) throw new Error('failure not detected');
      await new Promise((r) => setTimeout(r, 20));
    }
    const detectedMs = Date.now() - faultAt;
    await controller.idle(AbortSignal.timeout(30_000));
    expect(controller.transitions).toBeGreaterThan(before);
    expect(existsSync(aState)).toBe(true);
    expect(detectedMs).toBeLessThan(5000);
    expect(store.xml).toMatch(/fail-count-a#monitor_1000/);
  },
  60_000,
);
