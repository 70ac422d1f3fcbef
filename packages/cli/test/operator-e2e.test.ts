import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
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

/**
 * Run remora as if on `node` (through its daemon's socket). Under heavy CPU
 * load the transport's dead-peer detection (1.5 s without a heartbeat) can
 * declare a guest lost and the controller recovers it; its daemon then
 * answers "not connected" for a moment. Such a run is repeated (at most
 * twice) once the cluster has settled, and the test log says so.
 */
async function on(node: string, ...args: string[]): Promise<RemoraRun> {
  const env = { ...process.env };
  delete env.CIB_file;
  for (let attempt = 0; ; attempt++) {
    const r = await runRemora([...args, '--socket', cluster.sockets[node]!], env);
    if (r.code !== ExitCode.DISCONNECT || attempt === 2) return r;
    console.warn(
      `remora ${args.join(' ')} on ${node}: ${r.stderr.trim()} — retrying once the cluster settles`,
    );
    await settle();
  }
}

/** Wait until the controller has nothing left to do. */
async function settle(): Promise<void> {
  await cluster.controller.idle(AbortSignal.timeout(30_000));
  await new Promise((r) => setTimeout(r, 200));
}

beforeEach(() => settle());

function lastOp(rsc: string): { callId: number; operation: string } | undefined {
  for (const s of cluster.store.cib.status)
    for (const r of s.resources)
      if (r.id === rsc) {
        const op = r.operations.find((o) => o.id === `${rsc}_last_0`);
        if (op) return { callId: op.callId, operation: op.operation };
      }
  return undefined;
}

/** Lines that differ from one moment or one tool to the next. */
function stable(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^ {2}\* (Stack|Current DC|Last updated|Last change):/.test(l))
    .join('\n');
}

/** crm_mon -1 -r -f on the controller's current CIB (the oracle). */
async function crmMon(): Promise<string> {
  const file = join(cluster.dir, 'oracle.xml');
  // The CIB statusEverywhere() used. Without crm_feature_set crm_mon counts only legacy fail-count names.
  const { readFile } = await import('node:fs/promises');
  const xml = await readFile(join(cluster.dir, 'offline.xml'), 'utf8');
  await writeFile(file, xml.replace('<cib ', '<cib crm_feature_set="3.16.1" '));
  const { stdout } = await promisify(execFile)('crm_mon', ['-1', '-r', '-f'], {
    env: { ...process.env, CIB_file: file, TZ: 'UTC' },
  });
  return stdout;
}

/**
 * `remora status` from node1, guest1, remote1 and on a copy of the CIB, all
 * on one CIB version (when the CIB changed meanwhile, e.g. a connection
 * dropped under load and the controller reacted, everything is asked again
 * once the cluster has settled).
 */
async function statusEverywhere(): Promise<string[]> {
  const env: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC' };
  delete env.CIB_file;
  for (let attempt = 0; ; attempt++) {
    await settle();
    const version = cluster.store.xml;
    const file = join(cluster.dir, 'offline.xml');
    await writeFile(file, version);
    // One after the other: a burst of processes starving the daemons could look like a lost node.
    const runs: RemoraRun[] = [];
    for (const n of ['node1', 'guest1', 'remote1'])
      runs.push(await runRemora(['status', '--socket', cluster.sockets[n]!], env));
    runs.push(await runRemora(['status', '-x', file], env));
    if (cluster.store.xml !== version && attempt < 3) {
      console.warn('the CIB changed while asking every node for its status; asking again');
      continue;
    }
    for (const r of runs) expect(r).toMatchObject({ code: 0, stderr: '' });
    return runs.map((r) => r.stdout);
  }
}

describe('status', () => {
  test('the same from a cluster node, a guest node, a remote node and on the CIB file; crm_mon prints the same', async () => {
    await cluster.controller.idle(AbortSignal.timeout(20_000));
    const [first, ...others] = await statusEverywhere();
    for (const o of others) expect(stable(o)).toBe(stable(first!));
    expect(stable(first!)).toBe(stable(await crmMon()));
    expect(first).toMatch(/^ {2}\* Online: \[ node1 node2 \]$/m);
    expect(first).toMatch(/^ {2}\* RemoteOnline: \[ remote1 \]$/m);
    expect(first).toMatch(/^ {2}\* GuestOnline: \[ guest1 \]$/m);
    expect(first).toMatch(/^ {2}\* svc-guest\t\(ocf:heartbeat:Dummy\):\t Started guest1$/m);
    expect(first).toMatch(/^ {4}\* Unpromoted: \[ node1 node2 \]$/m);
  });

  test('a failed monitor shows as a failed action with its fail count, as crm_mon shows it; cleanup clears it', async () => {
    await rm(join(cluster.dir, 'remote1', 'Dummy-svc-remote.state'));
    const t = Date.now();
    while (!cluster.store.xml.includes('svc-remote_last_failure_0')) {
      if (Date.now() - t > 8000) throw new Error('the failure was not recorded');
      await new Promise((r) => setTimeout(r, 50));
    }
    await cluster.controller.idle(AbortSignal.timeout(20_000));
    const [first, ...others] = await statusEverywhere();
    for (const o of others) expect(stable(o)).toBe(stable(first!));
    expect(stable(first!)).toBe(stable(await crmMon()));
    expect(first).toMatch(
      /^ {2}\* svc-remote 5s-interval monitor on remote1 returned 'not running' \(No process state file found\) at .* after \d+ms$/m,
    );
    expect(first).toMatch(/^ {4}\* svc-remote: migration-threshold=1000000 fail-count=1 /m);
    expect(cluster.where('svc-remote')).toEqual(['remote1']);
    expect((await on('remote1', 'resource', '--cleanup', '--wait')).stdout).toMatch(
      /^Cleaned up failed resources on .*remote1/,
    );
    const [after] = await statusEverywhere();
    expect(after).not.toMatch(/svc-remote.*(fail-count|monitor on remote1)/);
  });

  test('a promotion score set from a node makes the cluster promote there; status shows it as crm_mon does', async () => {
    const set = await on('node1', 'promotion-score', '-r', 'db', '-v', '10');
    expect(set.code).toBe(0);
    expect((await on('guest1', 'promotion-score', '-r', 'db', '-N', 'node1', '-q')).stdout).toBe(
      '10\n',
    );
    const [first] = await statusEverywhere();
    expect(first).toMatch(/^ {4}\* Promoted: \[ node1 \]\n {4}\* Unpromoted: \[ node2 \]$/m);
    expect(stable(first!)).toBe(stable(await crmMon()));
    expect((await on('remote1', 'resource', '--locate', '-r', 'db')).stdout).toBe(
      'resource db is running on: node1 Promoted\nresource db is running on: node2\n',
    );
    expect((await on('node1', 'promotion-score', '-r', 'db', '-D')).code).toBe(0);
  });

  test('--output-as json and xml', async () => {
    const json = JSON.parse((await on('guest1', 'status', '--output-as', 'json')).stdout) as {
      nodes: { name: string; kind: string; online: boolean; host?: string }[];
    };
    expect(json.nodes.find((n) => n.name === 'guest1')).toMatchObject({
      kind: 'guest',
      online: true,
      host: 'node2',
    });
    const xml = (await on('remote1', 'status', '--output-as', 'xml')).stdout;
    expect(xml).toMatch(
      /^<pacemaker-result api-version="2\.25" request="remora status --output-as xml">/,
    );
    expect(xml).toMatch(
      /<node name="guest1" id="guest1" online="true" .*type="remote" id_as_resource="vm1"\/>/,
    );
    expect(xml).toMatch(
      /<resource id="svc-guest" resource_agent="ocf:heartbeat:Dummy" role="Started" active="true"/,
    );
  });

  test('node list, resource --list, --locate and --why from a guest', async () => {
    expect((await on('guest1', 'node', 'list')).stdout).toBe(
      'guest1 guest1 guest online host=node2\n1 node1 member online\n2 node2 member online\nremote1 remote1 remote online\n',
    );
    const list = await on('guest1', 'resource', '--list');
    expect(list.stdout).toMatch(/^Full List of Resources:\n {2}\* vm1\t/);
    expect((await on('remote1', 'resource', '--locate', '-r', 'svc-guest')).stdout).toBe(
      'resource svc-guest is running on: guest1\n',
    );
    expect((await on('remote1', 'resource', '-W', '-r', 'ping-clone', '-Q')).stdout).toBe(
      'node1\nnode2\n',
    );
    const why = await on('guest1', 'resource', '--why', '-r', 'svc-node');
    expect(why.stdout).toMatch(/^Resource svc-node is running on node1\n/);
    expect(why.stdout).toMatch(
      /'svc-node' is banned from 'guest1' by location constraint svc-node-cluster-only/,
    );
    const data = JSON.parse(
      (await on('guest1', 'resource', '--why', '-r', 'svc-node', '--output-as', 'json')).stdout,
    ) as { allocationScores?: Record<string, string>; nodes: { node: string; score: string }[] };
    expect(data.nodes.find((n) => n.node === 'node1')?.score).toBe('50');
    expect(data.allocationScores?.guest1).toBe('-INFINITY');
  });

  test('--ban without --node bans the resource from where it runs', async () => {
    const ban = await on('remote1', 'resource', '--ban', '-r', 'svc-guest', '--wait');
    expect(ban.stdout).toMatch(
      /^svc-guest is banned from guest1 \(constraint cli-ban-svc-guest-on-guest1\)/,
    );
    expect(cluster.where('svc-guest')).not.toContain('guest1');
    expect((await on('remote1', 'resource', '--clear', '-r', 'svc-guest', '--wait')).code).toBe(0);
    expect(cluster.where('svc-guest')).toEqual(['guest1']);
  });
});

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
      stderr: "remora: no node 'nowhere' in the cluster (nodes: node1, node2, guest1, remote1)\n",
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

describe('run on remote1 (a remote node: real remora remoted, connection resource remote1)', () => {
  test('node name and an attribute of this node, through its daemon', async () => {
    expect((await on('remote1', 'node', 'name')).stdout).toBe('remote1\n');
    expect((await on('remote1', 'attribute', '-l', 'reboot', '-n', 'zone', '-v', 'b')).code).toBe(
      0,
    );
    expect(
      (await on('node1', 'attribute', '-N', 'remote1', '-l', 'reboot', '-n', 'zone', '-q')).stdout,
    ).toBe('b\n');
  });
});

describe('waits', () => {
  test('--restart shows progress on stderr while a wait lasts more than a second', async () => {
    expect(cluster.where('slow')).toHaveLength(1);
    const r = await on('guest1', 'resource', '--restart', '-r', 'slow');
    if (r.code !== 0)
      console.log(r, cluster.store.xml.match(/<lrm_resource id="slow"[\s\S]*?<\/lrm_resource>/g));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('slow restarted\n');
    expect(r.stderr).toMatch(/^waiting for slow to (stop|start)\.\.\. 1 s$/m);
    expect(r.stderr).toMatch(/slow to start: done in \d+\.\d s/);
    expect(cluster.where('slow')).toHaveLength(1);
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
