import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CibStore, setNodeAttribute } from '@remora/cib';
import {
  ActionKind,
  ClusterActions,
  CrmSimulateScheduler,
  Fencer,
  parseTransitionGraph,
} from '../src';
import type { GraphAction } from '../src';

const run = promisify(execFile);
// A cluster node, a remote node and a guest node; crm_simulate brings it up (status included).
const BASE = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive class="ocf" id="vm1" provider="remora" type="guest-daemon">
        <meta_attributes id="vm1-meta"><nvpair id="vm1-rn" name="remote-node" value="guest1"/></meta_attributes>
        <operations><op id="vm1-mon" name="monitor" interval="10s"/></operations>
      </primitive>
      <primitive class="ocf" id="rnode1" provider="pacemaker" type="remote"><operations><op id="rn-mon" name="monitor" interval="5s"/></operations></primitive>
      <primitive class="ocf" id="svc" provider="heartbeat" type="Dummy"><operations><op id="svc-mon" name="monitor" interval="2s"/></operations></primitive>
    </resources>
    <constraints><rsc_location id="svc-on-g" rsc="svc" node="guest1" score="100"/></constraints>
  </configuration>
  <status><node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/></status>
</cib>
`;

let dir: string;
let store: CibStore;
const scheduler = new CrmSimulateScheduler();
const fenced: string[] = [];
let actions: ClusterActions;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'remora-ctl-events-'));
  await writeFile(join(dir, 'base.xml'), BASE);
  // Twice: the first run's probes on the new guest come in the next transition.
  await run('crm_simulate', ['-x', join(dir, 'base.xml'), '-S', '-O', join(dir, 'half.xml')], {
    timeout: 30_000,
  });
  await run('crm_simulate', ['-x', join(dir, 'half.xml'), '-S', '-O', join(dir, 'up.xml')], {
    timeout: 30_000,
  });
  store = await CibStore.open(undefined, { initial: await readFile(join(dir, 'up.xml'), 'utf8') });
  actions = new ClusterActions({
    store,
    fencer: new Fencer(),
    reason: 'test:',
    nodeKind: (n) => (n === 'node1' ? 'cluster' : n === 'guest1' ? 'guest' : 'remote'),
    onFenced: (n) => fenced.push(n),
    onShutdown: () => undefined,
    onDeviceMonitor: () => undefined,
  });
});
afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function graphActions(): Promise<GraphAction[]> {
  return [...parseTransitionGraph(await scheduler.schedule(store.xml)).actions.values()];
}

test('maintenance_nodes: once recorded on the remote node state, the scheduler stops asking', async () => {
  expect(await graphActions()).toEqual([]);
  await store.modify((doc) =>
    setNodeAttribute(doc, 'rnode1', 'maintenance', 'true', { knownNodes: ['rnode1'] }),
  );
  const pseudo = (await graphActions()).find((a) => a.operation === 'maintenance_nodes');
  expect(pseudo?.kind).toBe(ActionKind.pseudo);
  expect(pseudo?.maintenance).toEqual([{ node: 'rnode1', on: true }]);
  await actions.pseudo(pseudo!);
  expect(store.xml).toMatch(/<node_state id="rnode1"[^>]*node_in_maintenance="1"/);
  expect((await graphActions()).map((a) => a.operation)).not.toContain('maintenance_nodes');
});

test("a guest's implied fencing (pseudo stonith) erases its history", async () => {
  await writeFile(join(dir, 'now.xml'), store.xml);
  const { stdout } = await run(
    'crm_simulate',
    [
      '-x',
      join(dir, 'now.xml'),
      '-i',
      'guest1_monitor_30000@node1=1',
      '-G',
      join(dir, 'g.xml'),
      '-O',
      join(dir, 'failed.xml'),
    ],
    { timeout: 30_000 },
  );
  expect(stdout).toMatch(/Fence \(reboot\) guest1/);
  const graph = parseTransitionGraph(await readFile(join(dir, 'g.xml'), 'utf8'));
  const fence = [...graph.actions.values()].find((a) => a.operationKey === 'stonith-guest1-reboot');
  expect(fence?.kind).toBe(ActionKind.pseudo);
  expect(fence?.downed).toEqual(['guest1']);
  await actions.pseudo(fence!);
  expect(fenced).toEqual(['guest1']);
  expect(store.xml).not.toMatch(/<node_state id="guest1"[^>]*>\s*<lrm/);
});

test('clear_failcount forgets fail counts and the last failure; unknown cluster actions fail, naming them', async () => {
  await store.modify(
    (doc) => {
      setNodeAttribute(doc, 'rnode1', 'fail-count-svc#monitor_2000', '3', { lifetime: 'reboot' });
      setNodeAttribute(doc, 'rnode1', 'last-failure-svc#monitor_2000', '1700000000', {
        lifetime: 'reboot',
      });
      setNodeAttribute(doc, 'rnode1', 'fail-count-svcx#monitor_2000', '1', { lifetime: 'reboot' });
    },
    { scope: 'status' },
  );
  const event = parseTransitionGraph(
    `<transition_graph transition_id="1"><synapse id="0"><action_set><crm_event id="1" operation="clear_failcount" operation_key="svc_clear_failcount_0" on_node="rnode1" on_node_uuid="rnode1"><primitive id="svc" class="ocf" provider="heartbeat" type="Dummy"/><attributes CRM_meta_on_node="rnode1"/></crm_event></action_set><inputs/></synapse></transition_graph>`,
  ).actions.get(1)!;
  expect(await actions.crmEvent(event, new AbortController().signal)).toEqual({ confirmed: true });
  expect(store.xml).not.toMatch(/fail-count-svc#/);
  expect(store.xml).not.toMatch(/last-failure-svc#/);
  expect(store.xml).toMatch(/fail-count-svcx#/);
  const odd = { ...event, operation: 'frobnicate', operationKey: 'frob-1' };
  expect(await actions.crmEvent(odd, new AbortController().signal)).toEqual({
    confirmed: false,
    detail: "unknown cluster action 'frobnicate' (frob-1)",
  });
});
