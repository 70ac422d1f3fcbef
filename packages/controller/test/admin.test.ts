import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CibStore } from '@remora/cib';
import {
  Controller,
  CrmSimulateScheduler,
  OperatorRequestError,
  parseTransitionGraph,
} from '../src';
import type { NodeExecutor } from '../src';
import { inProcessNode } from './in-process-node';

const KEY = randomBytes(64);
const CIB = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
    <resources>
      <primitive class="ocf" id="r1" provider="heartbeat" type="Dummy"><operations><op id="r1-mon" name="monitor" interval="1s"/></operations></primitive>
    </resources>
    <constraints><rsc_location id="r1-on-1" rsc="r1" node="node1" score="100"/></constraints>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
    <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>
`;

let dir: string;
let store: CibStore;
let controller: Controller;
const scheduler = new CrmSimulateScheduler();
const stateDirs = new Map<string, string>();
const cleanupSteps: (() => Promise<void>)[] = [];
const shutDown: string[] = [];

function where(rsc: string): string[] {
  return [...stateDirs]
    .filter(([, d]) => existsSync(join(d, `Dummy-${rsc}.state`)))
    .map(([n]) => n);
}

async function settled(): Promise<void> {
  await controller.idle(AbortSignal.timeout(30_000));
  expect(parseTransitionGraph(await scheduler.schedule(store.xml)).synapses).toHaveLength(0);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'remora-ctl-admin-'));
  const executors = new Map<string, NodeExecutor>();
  for (const node of ['node1', 'node2']) {
    const { executor, stateDir } = await inProcessNode(dir, node, KEY, cleanupSteps);
    stateDirs.set(node, stateDir);
    executors.set(node, executor);
  }
  store = await CibStore.open(undefined, { initial: CIB });
  cleanupSteps.push(() => store.close());
  controller = Controller.start({
    store,
    scheduler,
    executors,
    onNodeShutdown: (node) => shutDown.push(node),
    onTransition: (r, g) =>
      process.env.DEBUG_TRANSITIONS &&
      console.log(
        r.status,
        [...g.actions.values()].map((a) => `${a.operationKey}@${a.onNode}`),
      ),
  });
  cleanupSteps.push(() => controller.close());
  await settled();
});

afterAll(async () => {
  for (const c of cleanupSteps.reverse()) await c().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('operator requests through the Controller API (real Dummy agents, Pacemaker scheduler)', () => {
  it('standby moves resources away and back', async () => {
    expect(where('r1')).toEqual(['node1']);
    await controller.standby('node1', true);
    await settled();
    expect(where('r1')).toEqual(['node2']);
    expect(store.xml).toMatch(/name="standby" value="on"/);
    await controller.standby('node1', false);
    await settled();
    expect(where('r1')).toEqual(['node1']);
  }, 60_000);

  it('move, ban and clear write cli-prefer / cli-ban constraints the scheduler follows', async () => {
    await controller.move('r1', 'node2');
    await settled();
    expect(where('r1')).toEqual(['node2']);
    expect(store.xml).toMatch(
      /<rsc_location id="cli-prefer-r1" rsc="r1" node="node2" score="INFINITY"\/>/,
    );
    expect(await controller.clear('r1')).toEqual(['cli-prefer-r1']);
    await settled();
    expect(where('r1')).toEqual(['node1']);
    // Ban without a node: from where it runs.
    expect(await controller.ban('r1')).toBe('node1');
    await settled();
    expect(where('r1')).toEqual(['node2']);
    expect(await controller.clear('r1', 'node1')).toEqual(['cli-ban-r1-on-node1']);
    await settled();
    expect(where('r1')).toEqual(['node1']);
  }, 60_000);

  it('maintenance leaves resources alone (monitor cancelled) and resumes them after', async () => {
    await controller.maintenance('node1', true);
    await settled();
    expect(store.xml).not.toMatch(/id="r1_monitor_1000"/);
    // Stopped behind the cluster's back while in maintenance: nobody reacts.
    await unlink(join(stateDirs.get('node1')!, 'Dummy-r1.state'));
    await new Promise((r) => setTimeout(r, 1500));
    expect(where('r1')).toEqual([]);
    expect(store.xml).not.toMatch(/r1_last_failure_0/);
    await controller.maintenance('node1', false);
    await settled();
    // Out of maintenance its monitor resumes, finds it stopped, and the cluster recovers it.
    expect(where('r1')).toEqual(['node1']);
    expect(store.xml).toMatch(/id="r1_monitor_1000"/);
    expect(store.xml).toMatch(/fail-count-r1#monitor_1000/);
    expect(await controller.cleanup('r1')).toEqual(['r1@node1', 'r1@node2']);
    await settled();
  }, 60_000);

  it('cleanup forgets failures (fail counts and last failure)', async () => {
    await unlink(join(stateDirs.get('node1')!, 'Dummy-r1.state'));
    const t = Date.now();
    while (!store.xml.includes('fail-count-r1#monitor_1000')) {
      if (Date.now() - t > 10_000)
        throw new Error(
          `monitor failure not recorded: ${where('r1').join()} ${store.xml.match(/<lrm_rsc_op id="r1[^>]*>/g)?.join('\n')}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
    await settled();
    expect(where('r1')).toEqual(['node1']);
    expect(await controller.cleanup()).toEqual(['r1@node1', 'r1@node2']);
    expect(store.xml).not.toMatch(/fail-count-r1/);
    expect(store.xml).not.toMatch(/r1_last_failure_0/);
    await settled();
    expect(where('r1')).toEqual(['node1']);
  }, 60_000);

  it('node attributes and promotion scores land where Pacemaker keeps them', async () => {
    await controller.setAttribute('node2', 'rack', 'b');
    await controller.setAttribute('node2', 'pingd', '100', 'reboot');
    await controller.setPromotionScore('r1', 'node2', 10);
    const cib = store.cib;
    expect(cib.nodes.find((n) => n.name === 'node2')!.attributes[0]!.values.rack).toBe('b');
    const ns = cib.status.find((s) => s.uname === 'node2')!;
    expect(ns.transientAttributes.pingd).toBe('100');
    expect(ns.transientAttributes['master-r1']).toBe('10');
    await controller.setPromotionScore('r1', 'node2', undefined);
    expect(
      store.cib.status.find((s) => s.uname === 'node2')!.transientAttributes['master-r1'],
    ).toBeUndefined();
    await settled();
  }, 60_000);

  it('refuses requests naming what the CIB does not have, saying what', async () => {
    await expect(controller.standby('node9', true)).rejects.toThrow(OperatorRequestError);
    await expect(controller.standby('node9', true)).rejects.toThrow(
      /no node 'node9'.*node1, node2/,
    );
    await expect(controller.move('nope', 'node1')).rejects.toThrow(/no resource 'nope'/);
    await expect(controller.ban('r1', 'node7')).rejects.toThrow(/no node 'node7'/);
    await expect(controller.setAttribute('node1', 'bad name', 'x')).rejects.toThrow(
      /'bad name' is not a valid attribute name/,
    );
  });

  it('draining a cluster node moves its resources, then shuts it down (do_shutdown)', async () => {
    expect(where('r1')).toEqual(['node1']);
    await controller.drain('node1');
    await settled();
    expect(where('r1')).toEqual(['node2']);
    expect(shutDown).toEqual(['node1']);
    const ns = store.cib.status.find((n) => n.uname === 'node1')!;
    expect([ns.crmd, ns.join, ns.expected, ns.inCcm]).toEqual(['offline', 'down', 'down', false]);
  }, 60_000);
});
