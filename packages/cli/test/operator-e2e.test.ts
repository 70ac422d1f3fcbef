import { join } from 'node:path';
import { RemoteDaemon } from '@remora/remote-transport';
import { ExitCode } from '../src';
import type { TestCluster } from './cluster-fixture';
import { startTestCluster } from './cluster-fixture';
import { runRemora } from './run-remora';
import type { RemoraRun } from './run-remora';

// One running cluster (controller, node1, node2, guest1 as a real remora
// remoted process) for every test; each command runs as a `remora` process
// on a cluster node (node1) and on the guest node (guest1), through that
// node's local daemon socket.
let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster();
}, 30_000);
afterAll(() => cluster?.close());

/** Run remora as if on `node` (through its daemon's socket). */
function on(node: string, ...args: string[]): Promise<RemoraRun> {
  const env = { ...process.env };
  delete env.CIB_file;
  return runRemora([...args, '--socket', cluster.sockets[node]!], env);
}

function lastOp(rsc: string): { callId: number; operation: string } | undefined {
  for (const s of cluster.store.cib.status)
    for (const r of s.resources)
      if (r.id === rsc) {
        const op = r.operations.find((o) => o.id === `${rsc}_last_0`);
        if (op) return { callId: op.callId, operation: op.operation };
      }
  return undefined;
}

describe.each(['node1', 'guest1'])('run on %s', (self) => {
  const other = self === 'node1' ? 'guest1' : 'node1';

  test('node name: the name the cluster knows this node by', async () => {
    expect(await on(self, 'node', 'name')).toEqual({ code: 0, stdout: `${self}\n`, stderr: '' });
  });

  test('attribute: a transient attribute with no --node lands on this node; any node reads it alike', async () => {
    const set = await on(
      self,
      'attribute',
      '-l',
      'reboot',
      '-n',
      'e2e-mark',
      '-v',
      `set-on-${self}`,
    );
    expect(set).toEqual({ code: 0, stdout: '', stderr: '' });
    const state = cluster.store.cib.status.find((s) => s.uname === self);
    expect(state?.transientAttributes['e2e-mark']).toBe(`set-on-${self}`);
    const here = await on(self, 'attribute', '-N', self, '-l', 'reboot', '-n', 'e2e-mark');
    const there = await on(other, 'attribute', '-N', self, '-l', 'reboot', '-n', 'e2e-mark');
    expect(here.stdout).toBe(`scope=status  name=e2e-mark value=set-on-${self}\n`);
    expect(there).toEqual(here);
    const deleted = await on(
      other,
      'attribute',
      '-N',
      self,
      '-l',
      'reboot',
      '-n',
      'e2e-mark',
      '-D',
    );
    expect(deleted.stdout).toBe(`Deleted status attribute: name=e2e-mark node=${self}\n`);
    const gone = await on(self, 'attribute', '-l', 'reboot', '-n', 'e2e-mark', '-q');
    expect(gone.code).toBe(ExitCode.NOSUCH);
    expect(gone.stderr).toBe(`remora: transient attribute 'e2e-mark' is not set on node ${self}\n`);
  });

  test('attribute: permanent node attributes and cluster properties; unknown nodes are 105', async () => {
    expect((await on(self, 'attribute', '-l', 'forever', '-n', 'rack', '-v', '7')).code).toBe(0);
    expect(cluster.store.cib.nodes.find((n) => n.name === self)?.attributes[0]?.values.rack).toBe(
      '7',
    );
    expect((await on(other, 'attribute', '-N', self, '-n', 'rack', '-q')).stdout).toBe('7\n');
    expect((await on(self, 'attribute', '-n', 'cluster-recheck-interval', '-v', '5min')).code).toBe(
      0,
    );
    expect(await on(other, 'attribute', '-n', 'cluster-recheck-interval')).toEqual({
      code: 0,
      stdout: 'scope=crm_config  name=cluster-recheck-interval value=5min\n',
      stderr: '',
    });
    const bad = await on(self, 'attribute', '-N', 'nowhere', '-n', 'x', '-v', '1');
    expect(bad).toEqual({
      code: ExitCode.NOSUCH,
      stdout: '',
      stderr: "remora: no node 'nowhere' in the cluster\n",
    });
  });

  test('promotion-score: from an agent (OCF_RESOURCE_INSTANCE) it scores this node, transient', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, OCF_RESOURCE_INSTANCE: 'svc-node:0' };
    delete env.CIB_file;
    const set = await runRemora(
      ['promotion-score', '-v', '10', '--socket', cluster.sockets[self]!],
      env,
    );
    expect(set.code).toBe(0);
    const state = cluster.store.cib.status.find((s) => s.uname === self);
    expect(state?.transientAttributes['master-svc-node']).toBe('10');
    expect((await on(other, 'promotion-score', '-r', 'svc-node', '-N', self, '-q')).stdout).toBe(
      '10\n',
    );
    expect((await on(self, 'promotion-score', '-r', 'svc-node', '-D')).code).toBe(0);
    expect((await on(self, 'promotion-score', '-r', 'nope', '-v', '1')).code).toBe(ExitCode.NOSUCH);
  });

  test('resource --move/--ban/--clear with --wait: the service runs where asked when the command returns', async () => {
    expect(cluster.where('svc-node')).toEqual(['node1']);
    const move = await on(self, 'resource', '--move', '-r', 'svc-node', '-N', 'node2', '--wait');
    expect(move.code).toBe(0);
    expect(move.stdout).toMatch(/^svc-node will move to node2 \(constraint cli-prefer-svc-node\)/);
    expect(cluster.where('svc-node')).toEqual(['node2']);
    const ban = await on(self, 'resource', '--ban', '-r', 'svc-node', '-N', 'node2', '--wait');
    expect(ban.code).toBe(0);
    expect(cluster.where('svc-node')).toEqual(['node1']);
    const clear = await on(self, 'resource', '--clear', '-r', 'svc-node', '--wait');
    expect(clear.stdout).toBe(
      'Removing constraint: cli-prefer-svc-node\nRemoving constraint: cli-ban-svc-node-on-node2\n',
    );
    expect(cluster.store.cib.constraints.some((c) => c.id.startsWith('cli-'))).toBe(false);
    expect(cluster.where('svc-node')).toEqual(['node1']);
    const temp = await on(self, 'resource', '--ban', '-r', 'svc-node', '-N', 'node1', '-u', '1h');
    expect(temp.stdout).toMatch(/until \d{4}-\d\d-\d\dT/);
    expect(cluster.store.xml).toMatch(/<date_expression id="cli-ban-svc-node-on-node1-lifetime"/);
    expect((await on(self, 'resource', '--clear', '-r', 'svc-node', '--wait')).code).toBe(0);
    expect(cluster.where('svc-node')).toEqual(['node1']);
    expect((await on(self, 'resource', '--move', '-r', 'nope', '-N', 'node2')).code).toBe(
      ExitCode.NOSUCH,
    );
  });

  test('resource --cleanup forgets failures and the resource is re-probed; --restart stops and starts it', async () => {
    const failCount = 'fail-count-svc-node#monitor_5000';
    await on(self, 'attribute', '-N', 'node1', '-l', 'reboot', '-n', failCount, '-v', '1');
    const cleanup = await on(self, 'resource', '--cleanup', '-r', 'svc-node', '--wait');
    expect(cleanup.code).toBe(0);
    expect(cleanup.stdout).toMatch(/^Cleaned up svc-node on .*node1/);
    const node1 = cluster.store.cib.status.find((s) => s.uname === 'node1');
    expect(node1?.transientAttributes[failCount]).toBeUndefined();
    expect(lastOp('svc-node')?.operation).toMatch(/start|monitor/);
    expect(cluster.where('svc-node')).toEqual(['node1']);

    const before = lastOp('svc-node')!.callId;
    const restart = await on(self, 'resource', '--restart', '-r', 'svc-node');
    expect(restart).toMatchObject({ code: 0, stdout: 'svc-node restarted\n' });
    expect(lastOp('svc-node')).toEqual({ callId: expect.any(Number), operation: 'start' });
    expect(lastOp('svc-node')!.callId).toBeGreaterThan(before);
    expect(cluster.where('svc-node')).toEqual(['node1']);
  });

  test('resource agent listings and meta-data come from the node the command runs on', async () => {
    const std = await on(self, 'resource', '--list-standards');
    expect(std.stdout.split('\n')).toContain('ocf');
    const agents = await on(self, 'resource', '--list-agents', 'ocf:heartbeat');
    expect(agents.stdout.split('\n')).toContain('Dummy');
    const md = await on(self, 'resource', '--show-metadata', 'ocf:heartbeat:Dummy');
    expect(md.stdout).toMatch(/<resource-agent name="Dummy"/);
  });
});

describe('standby and node removal', () => {
  test('standby on/off with no --node acts on the node it runs on (the guest too)', async () => {
    expect(cluster.where('svc-guest')).toEqual(['guest1']);
    const on1 = await on('guest1', 'standby', 'on', '--wait');
    expect(on1).toMatchObject({ code: 0, stdout: 'guest1: standby on\n' });
    expect(cluster.where('svc-guest')).not.toContain('guest1');
    expect((await on('node1', 'standby', '-N', 'guest1')).stdout).toBe(
      'scope=nodes  name=standby value=on\n',
    );
    expect((await on('guest1', 'standby', 'off', '--wait')).code).toBe(0);
    expect(cluster.where('svc-guest')).toEqual(['guest1']);

    expect((await on('node1', 'standby', 'on', '--wait')).code).toBe(0);
    expect(cluster.where('svc-node')).toEqual(['node2']);
    expect((await on('guest1', 'standby', 'off', '-N', 'node1', '--wait')).code).toBe(0);
    expect(cluster.where('svc-node')).toEqual(['node1']);
  });

  test('node remove forgets a departed node and refuses online or resource-defined ones', async () => {
    await cluster.store.modify((doc) => {
      const nodes = doc.root.children
        .filter((c) => c.type === 'element' && c.name === 'configuration')
        .flatMap((c) => (c.type === 'element' ? c.children : []))
        .find((c) => c.type === 'element' && c.name === 'nodes');
      if (nodes?.type === 'element')
        nodes.children.push({
          type: 'element',
          name: 'node',
          attributes: new Map([
            ['id', '3'],
            ['uname', 'node3'],
          ]),
          children: [],
          selfClosing: true,
        });
    });
    expect(cluster.store.cib.nodes.map((n) => n.name)).toContain('node3');
    expect(await on('guest1', 'node', 'remove', 'node3')).toEqual({
      code: 0,
      stdout: 'Removed node node3\n',
      stderr: '',
    });
    expect(cluster.store.cib.nodes.map((n) => n.name)).not.toContain('node3');
    const online = await on('guest1', 'node', 'remove', 'node2');
    expect(online.code).toBe(ExitCode.INVALID_PARAM);
    expect(online.stderr).toMatch(/node2 is online/);
    const guest = await on('node1', 'node', 'remove', 'guest1');
    expect(guest.stderr).toMatch(/guest1 is defined by resource 'vm1'/);
    expect((await on('node1', 'node', 'remove', 'node9')).code).toBe(ExitCode.NOSUCH);
  });
});

describe('not connected to a cluster', () => {
  test('a daemon no controller has connected to: exit 102 with a clear message', async () => {
    const socket = join(cluster.dir, 'lonely.sock');
    const daemon = await RemoteDaemon.start({
      listen: '127.0.0.1:0',
      authKey: Buffer.alloc(32, 1),
      nodeName: 'lonely',
      localSocket: socket,
    });
    try {
      const env = { ...process.env };
      delete env.CIB_file;
      const r = await runRemora(['attribute', '-n', 'x', '--socket', socket], env);
      expect(r.code).toBe(ExitCode.DISCONNECT);
      expect(r.stderr).toMatch(/lonely is not connected to a cluster/);
    } finally {
      await daemon.close();
    }
  });

  test('no daemon on the socket: exit 102, and how to work on a CIB file instead', async () => {
    const env = { ...process.env };
    delete env.CIB_file;
    const socket = join(cluster.dir, 'nobody.sock');
    const r = await runRemora(['standby', 'on', '--socket', socket], env);
    expect(r.code).toBe(ExitCode.DISCONNECT);
    expect(r.stderr).toMatch(
      /not connected to a cluster: no remora daemon answers on .*nobody\.sock.*CIB_file/,
    );
  });
});
