import { compareNames, failedActionText, formatCtime, formatStatus } from '../src/status/format';
import type { StatusNode, StatusPrimitive, StatusView } from '../src/status/view';

// The expected texts are what crm_mon 2.1.5 (`crm_mon -1 -r -f`) and
// crm_simulate print for the same cluster.

function node(name: string, extra: Partial<StatusNode> = {}): StatusNode {
  return {
    name,
    id: name,
    kind: 'member',
    online: true,
    standby: false,
    standbyOnFail: false,
    maintenance: false,
    pending: false,
    unclean: false,
    shutdown: false,
    isDc: false,
    resourcesRunning: 0,
    ...extra,
  };
}

function prim(
  id: string,
  agent: string,
  nodes: string[],
  extra: Partial<StatusPrimitive> = {},
): StatusPrimitive {
  return {
    kind: 'primitive',
    id,
    agent,
    role: nodes.length > 0 ? 'Started' : 'Stopped',
    nodes,
    failed: false,
    managed: true,
    disabled: false,
    blocked: false,
    orphaned: false,
    failureIgnored: false,
    ...extra,
  };
}

const dummy = 'ocf:heartbeat:Dummy';

const view: StatusView = {
  stack: 'remora',
  dc: { name: 'node1', id: '1', version: '0.1.0' },
  haveQuorum: true,
  lastChange: { time: 'Tue Nov 14 22:13:20 2023', client: 'remora', origin: 'guest1' },
  nodes: [
    node('node2', { id: '2', standby: true, resourcesRunning: 1 }),
    node('node10', { id: '10', online: false }),
    node('node1', { id: '1', isDc: true }),
    node('remote1', { kind: 'remote' }),
    node('remote2', { kind: 'remote', online: false }),
    node('guest1', { kind: 'guest', resource: 'vm1', host: 'node2' }),
  ],
  resources: [
    prim('vm1', 'ocf:remora:guest-daemon', ['node2']),
    prim('svc', dummy, ['guest1'], { failed: true }),
    prim('off', dummy, [], { disabled: true }),
    prim('held', dummy, ['node1'], { disabled: true, managed: false }),
    {
      kind: 'group',
      id: 'web',
      managed: true,
      disabled: false,
      children: [prim('web-ip', dummy, ['node1']), prim('web-srv', dummy, [])],
    },
    {
      kind: 'clone',
      id: 'ping-clone',
      childId: 'ping',
      promotable: false,
      unique: false,
      managed: true,
      disabled: false,
      instances: [prim('ping:0', dummy, ['node2']), prim('ping:1', dummy, ['node1'])],
      stoppedOn: ['remote1', 'guest1'],
    },
    {
      kind: 'clone',
      id: 'db-clone',
      childId: 'db',
      promotable: true,
      unique: false,
      managed: true,
      disabled: false,
      instances: [
        prim('db:0', 'ocf:pacemaker:Stateful', ['node1'], { role: 'Promoted' }),
        prim('db:1', 'ocf:pacemaker:Stateful', ['node2'], { role: 'Unpromoted' }),
        prim('db:2', 'ocf:pacemaker:Stateful', ['remote1'], { role: 'Unpromoted', failed: true }),
      ],
      stoppedOn: ['guest1'],
    },
  ],
  resourceCounts: { configured: 11, disabled: 2, blocked: 0 },
  failedActions: [
    {
      resource: 'svc',
      operationKey: 'svc_monitor_5000',
      task: 'monitor',
      interval: 5000,
      node: 'guest1',
      rc: 7,
      rcText: 'not running',
      status: 'complete',
      callId: 12,
      lastRcChange: 1_700_000_100,
      execTime: 20,
    },
  ],
  failCounts: [
    {
      node: 'guest1',
      resource: 'svc',
      failCount: 1,
      migrationThreshold: 1_000_000,
      lastFailure: 1_700_000_100,
    },
  ],
  options: { stonithEnabled: false, maintenanceMode: false, stopAllResources: false },
};

test('crm_mon -1 -r -f text: summary, node list (individual lines first, then the grouped lists), resources, fail counts, failed actions', () => {
  const text = formatStatus(view, { now: new Date(1_700_000_200_000), timeZone: 'UTC' });
  expect(text).toBe(`Cluster Summary:
  * Stack: remora
  * Current DC: node1 (version 0.1.0) - partition with quorum
  * Last updated: Tue Nov 14 22:16:40 2023
  * Last change:  Tue Nov 14 22:13:20 2023 via remora on guest1
  * 6 nodes configured
  * 11 resource instances configured (2 DISABLED)

Node List:
  * Node node2: standby (with active resources)
  * Online: [ node1 ]
  * OFFLINE: [ node10 ]
  * RemoteOnline: [ remote1 ]
  * RemoteOFFLINE: [ remote2 ]
  * GuestOnline: [ guest1 ]

Full List of Resources:
  * vm1\t(ocf:remora:guest-daemon):\t Started node2
  * svc\t(ocf:heartbeat:Dummy):\t FAILED guest1
  * off\t(ocf:heartbeat:Dummy):\t Stopped (disabled)
  * held\t(ocf:heartbeat:Dummy):\t Started node1 (disabled, unmanaged)
  * Resource Group: web:
    * web-ip\t(ocf:heartbeat:Dummy):\t Started node1
    * web-srv\t(ocf:heartbeat:Dummy):\t Stopped
  * Clone Set: ping-clone [ping]:
    * Started: [ node1 node2 ]
    * Stopped: [ guest1 remote1 ]
  * Clone Set: db-clone [db] (promotable):
    * db\t(ocf:pacemaker:Stateful):\t FAILED remote1
    * Promoted: [ node1 ]
    * Unpromoted: [ node2 ]
    * Stopped: [ guest1 ]

Migration Summary:
  * Node: guest1:
    * svc: migration-threshold=1000000 fail-count=1 last-failure='Tue Nov 14 22:15:00 2023'

Failed Resource Actions:
  * svc 5s-interval monitor on guest1 returned 'not running' at Tue Nov 14 22:15:00 2023 after 20ms
`);
});

test("crm_simulate's Current cluster status block", () => {
  const text = formatStatus(
    { ...view, resources: view.resources.slice(0, 1) },
    { style: 'simulate' },
  );
  expect(text).toBe(`  * Node List:
    * Node node2: standby (with active resources)
    * Online: [ node1 ]
    * OFFLINE: [ node10 ]
    * RemoteOnline: [ remote1 ]
    * RemoteOFFLINE: [ remote2 ]
    * GuestOnline: [ guest1 ]

  * Full List of Resources:
    * vm1\t(ocf:remora:guest-daemon):\t Started node2
`);
});

test('node states printed on their own line, and multi-active resources', () => {
  const text = formatStatus(
    {
      ...view,
      nodes: [
        node('a', { online: false, unclean: true }),
        node('b', { maintenance: true }),
        node('c', { kind: 'guest', maintenance: true }),
        node('d', { online: false, standby: true }),
        node('e', { kind: 'remote', online: false, maintenance: true }),
      ],
      resources: [prim('multi', dummy, ['a', 'b'], { uncleanNodes: ['a'] })],
      failedActions: [],
      failCounts: [],
    },
    { style: 'simulate' },
  );
  expect(text).toBe(`  * Node List:
    * Node a: UNCLEAN (offline)
    * Node b: maintenance
    * GuestNode c: maintenance
    * Node d: OFFLINE (standby)
    * RemoteNode e: OFFLINE (maintenance)

  * Full List of Resources:
    * multi\t(ocf:heartbeat:Dummy):\t Started (UNCLEAN) [ a b ]
`);
});

test('failed actions as crm_mon words them: probes, execution errors, seconds', () => {
  const base = view.failedActions[0]!;
  expect(failedActionText({ ...base, task: 'monitor', interval: 0, lastRcChange: undefined })).toBe(
    "svc probe on guest1 returned 'not running'",
  );
  expect(
    failedActionText({
      ...base,
      task: 'start',
      interval: 0,
      status: 'Error',
      exitReason: 'boom',
      lastRcChange: undefined,
    }),
  ).toBe('svc start on guest1 could not be executed (Error: boom)');
  expect(failedActionText({ ...base, task: 'start', interval: 0, execTime: 30_160 }, 'UTC')).toBe(
    "svc start on guest1 returned 'not running' at Tue Nov 14 22:15:00 2023 after 30.160s",
  );
});

test('names sort naturally, dates print as ctime', () => {
  expect(['node10', 'node2', 'Node1'].sort(compareNames)).toEqual(['Node1', 'node2', 'node10']);
  expect(formatCtime(1_330_000_000, 'UTC')).toBe('Thu Feb 23 12:26:40 2012');
  expect(formatCtime(1_330_300_000, 'UTC')).toBe('Sun Feb 26 23:46:40 2012');
  expect(formatCtime(1_331_000_000, 'UTC')).toBe('Tue Mar  6 02:13:20 2012');
});
