import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { clusterProcesses, freePort, prepareOcfRoot, remoraBinary, spawnRemoted } from '../src';
import type { LocalDaemon } from '../src';
import { cleanupMembers, DistributedMembers } from './distributed-members';

// Distributed mode with a remote node: the connection to its daemon is hosted on the
// member the scheduler puts the connection resource on (not on the DC), actions for the
// remote node go through that member, CLI commands on the remote node reach the DC
// through it; when it is killed, the connection is recovered on another member.
const remotes: LocalDaemon[] = [];
const run = promisify(execFile);
let c: DistributedMembers;
let dir: string;
let remote: LocalDaemon | undefined;

afterAll(async () => {
  for (const r of remotes) await r.stop(1000);
  await cleanupMembers();
});

const output = (name: string): string => c.output.get(name) ?? '';

/** The members hosting the connection to a remote/guest node (rnode1 by default). */
async function hosts(node = 'rnode1'): Promise<string[]> {
  const found: string[] = [];
  for (const m of c.members)
    if (c.running(m.name) && (await c.stateOf(m.name))?.connections?.includes(node))
      found.push(m.name);
  return found;
}

/** `remora` run on the remote node (its local daemon relays to the cluster). */
async function onRemote(...args: string[]): Promise<string> {
  const { stdout } = await run(remoraBinary(), [...args, '--socket', join(dir, 'rnode1.sock')], {
    timeout: 10_000,
  });
  return stdout;
}

/** `remora status` on the remote node answers and shows it online with svc started there. */
async function svcStartedThroughRelay(): Promise<boolean> {
  try {
    const s = await onRemote('status');
    return /RemoteOnline: \[ rnode1 \]/.test(s) && /svc\s.*Started rnode1/.test(s);
  } catch {
    return false;
  }
}

const until = (
  what: string,
  ok: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<number> => c.until(what, ok, timeoutMs, 50);

/**
 * Three members (127.0.0.21-23), a remote node rnode1 (a `remora remoted` on 127.0.0.30)
 * whose connection prefers node3, then node2, and svc (Dummy) that may only run on rnode1.
 */
async function boot(guest = false): Promise<void> {
  c = await DistributedMembers.create(20);
  dir = c.dir;
  const keyFile = c.keyFile;
  const port = await freePort('127.0.0.30');
  const ocfRoot = await prepareOcfRoot(dir);
  // The guest: a `remora remoted` started by ocf:remora:guest-daemon on the node running vm1.
  const guestPort = await freePort('127.0.0.31');
  const nv = (id: string, name: string, value: string): string =>
    `<nvpair id="${id}-${name}" name="${name}" value="${value}"/>`;
  const guestResources = `<primitive class="ocf" id="vm1" provider="remora" type="guest-daemon"><instance_attributes id="vm1-ia">${nv('vm1', 'name', 'guest1')}${nv('vm1', 'listen', `127.0.0.31:${guestPort}`)}${nv('vm1', 'authkey', keyFile)}${nv('vm1', 'remora', remoraBinary())}${nv('vm1', 'rsctmp', join(dir, 'guest1'))}</instance_attributes><meta_attributes id="vm1-meta">${nv('vm1', 'remote-node', 'guest1')}${nv('vm1', 'remote-addr', '127.0.0.31')}${nv('vm1', 'remote-port', String(guestPort))}${nv('vm1', 'remote-connect-timeout', '20s')}</meta_attributes><operations><op id="vm1-mon" name="monitor" interval="2s"/></operations></primitive>
      <primitive class="ocf" id="gsvc" provider="heartbeat" type="Dummy"><operations><op id="gsvc-mon" name="monitor" interval="2s"/></operations></primitive>`;
  const guestConstraints = `<rsc_location id="vm1-on-3" rsc="vm1" node="node3" score="100"/><rsc_location id="vm1-on-2" rsc="vm1" node="node2" score="50"/><rsc_location id="gsvc-on-guest" rsc="gsvc" node="guest1" score="INFINITY"/>${c.members.map((m) => `<rsc_location id="gsvc-not-${m.name}" rsc="gsvc" node="${m.name}" score="-INFINITY"/>`).join('')}`;
  remote = await spawnRemoted({
    name: 'rnode1',
    listen: `127.0.0.30:${port}`,
    keyFile,
    stateDir: join(dir, 'rnode1'),
    cluster: c.cluster,
  });
  remotes.push(remote);
  await c.configure(
    `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="true"/><nvpair id="opts-st" name="stonith-timeout" value="20s"/></cluster_property_set></crm_config>
    <nodes>${c.nodesXml}</nodes>
    <resources>
      ${c.fenceDeviceXml}
      <primitive class="ocf" id="rnode1" provider="pacemaker" type="remote"><instance_attributes id="rn-ia"><nvpair id="rn-s" name="server" value="127.0.0.30"/><nvpair id="rn-p" name="port" value="${port}"/></instance_attributes><operations><op id="rn-mon" name="monitor" interval="5s"/></operations></primitive>
      <primitive class="ocf" id="svc" provider="heartbeat" type="Dummy"><operations><op id="svc-mon" name="monitor" interval="2s"/></operations></primitive>
      ${guest ? guestResources : ''}
    </resources>
    <constraints>
      <rsc_location id="rn-on-3" rsc="rnode1" node="node3" score="100"/>
      <rsc_location id="rn-on-2" rsc="rnode1" node="node2" score="50"/>
      <rsc_location id="svc-on-remote" rsc="svc" node="rnode1" score="INFINITY"/>
      ${c.members.map((m) => `<rsc_location id="svc-not-${m.name}" rsc="svc" node="${m.name}" score="-INFINITY"/>`).join('')}
      ${guest ? guestConstraints : ''}
    </constraints>
  </configuration>
  <status/>
</cib>
`,
    () => ({ ocfRoot }),
  );
  for (const m of c.members) c.spawn(m.name);
}

const svcRuns = (): boolean => existsSync(join(dir, 'rnode1', 'Dummy-svc.state'));
const svcStartedAt = (): number => statSync(join(dir, 'rnode1', 'Dummy-svc.state')).mtimeMs;

/** Up: node1 leads; the connection is on node3 (where the scheduler put it), svc runs on rnode1. */
async function up(): Promise<number> {
  const ms = await until(
    'svc to run on rnode1 through node3',
    async () => svcRuns() && (await hosts()).join() === 'node3',
    60_000,
  );
  expect(output('node1')).toMatch(/node1: became DC/);
  expect(output('node3')).toMatch(/node3: hosting the connection to rnode1 .* for DC node1/);
  expect(output('node1')).not.toMatch(/hosting the connection/);
  expect((await c.stateOf('node1'))?.connections).toEqual([]);
  return ms;
}

/** Watch that the connection is never hosted twice; returns a stop function giving what was seen. */
function watchDouble(): () => string {
  let double = '';
  const t = setInterval(() => {
    void hosts().then((h) => {
      if (h.length > 1) double ||= `connection on ${h.join(' and ')}`;
    });
  }, 100);
  return () => {
    clearInterval(t);
    return double;
  };
}

async function stopAll(): Promise<void> {
  c.terminate();
  await remote!.stop(2000);
  await c.stop();
}

test('a remote node connection is hosted on the member the scheduler chose; it moves when that member is killed', async () => {
  await boot();
  const upMs = await up();
  // CLI commands on the remote node reach the DC through node3 (the node name filled in).
  // (The daemon's relay stream opens just after the connection: allow it a moment.)
  await until(
    'the relay to answer',
    () =>
      onRemote('attribute', '-l', 'reboot', '-n', 'relayed', '-v', 'yes').then(
        () => true,
        () => false,
      ),
    5000,
  );
  expect((await onRemote('attribute', '-l', 'reboot', '-n', 'relayed', '-G', '-q')).trim()).toBe(
    'yes',
  );
  const status = await onRemote('status');
  expect(status).toMatch(/RemoteOnline: \[ rnode1 \]/);
  expect(status).toMatch(/svc\s.*Started rnode1/);

  const svcStarted = svcStartedAt();

  // The hosting member dies: the connection is recovered on another member, svc keeps running there.
  const double = watchDouble();
  const killedAt = Date.now();
  c.procs.get('node3')!.kill('SIGKILL');
  const movedMs = await until(
    'the connection to move',
    async () => (await hosts()).join() === 'node2',
    30_000,
  );
  const after = await until(
    'the relay and svc to answer through the new host',
    svcStartedThroughRelay,
    30_000,
  );
  const twice = double();
  console.log(
    `distributed remote: up in ${upMs} ms (connection on node3); node3 killed, connection on ${(await hosts()).join()} ${movedMs} ms later, svc reported started through it ${movedMs + after} ms after the kill`,
  );
  expect(twice).toBe('');
  expect(output('node2')).toMatch(/node2: hosting the connection to rnode1 .* for DC node1/);
  // svc ran on through it all (never stopped or restarted).
  expect(svcStartedAt()).toBe(svcStarted);
  // rnode1 was not fenced (its daemon runs), node3 was (its run directory emptied).
  expect(remote!.child.exitCode).toBeNull();
  expect(readdirSync(c.runDir('node3'))).toEqual([]);
  expect(output('node1')).toMatch(/DC node1/);
  expect(Date.now() - killedAt).toBeLessThan(40_000);

  await stopAll();
}, 120_000);

test('when the DC dies, the new DC adopts the connection the surviving member hosts (not made again); svc keeps running', async () => {
  await boot();
  await up();
  const svcStarted = svcStartedAt();
  const double = watchDouble();
  const killedAt = Date.now();
  c.procs.get('node1')!.kill('SIGKILL');
  await until('node2 to take over', () => /node2: became DC/.test(output('node2')), 20_000);
  await until(
    'node2 to adopt the connection node3 hosts',
    () =>
      /node3: DC node2 adopted the connection to rnode1 \(hosted for DC node1\)/.test(
        output('node3'),
      ),
    30_000,
  );
  const backMs = Date.now() - killedAt;
  await until(
    'the connection to be reported on node3',
    async () => (await hosts()).join() === 'node3',
    10_000,
  );
  await until('svc reported started through node3', svcStartedThroughRelay, 30_000);
  const svcMs = Date.now() - killedAt;
  const twice = double();
  console.log(
    `distributed remote: DC killed, node2 took over and adopted the connection node3 hosts ${backMs} ms after the kill, svc reported started ${svcMs} ms after it`,
  );
  expect(output('node2')).toMatch(
    /node2: became DC \(executors: [^)]*; adopted connections: rnode1 on node3\)/,
  );
  // Never closed nor made again: one connection from node3 all along.
  expect(output('node3')).not.toMatch(/closed the connection to rnode1/);
  expect(output('node3').match(/hosting the connection to rnode1/g)).toHaveLength(1);
  expect(twice).toBe('');
  expect(svcStartedAt()).toBe(svcStarted);
  expect(remote!.child.exitCode).toBeNull();

  // The remote daemon is asked to stop (SIGTERM): its drain request reaches the DC through
  // node3; svc is stopped, then the connection, and the daemon exits.
  const termAt = Date.now();
  remote!.child.kill('SIGTERM');
  await until('the remote daemon to drain and exit', () => remote!.child.exitCode !== null, 30_000);
  console.log(`distributed remote: rnode1 drained through node3 in ${Date.now() - termAt} ms`);
  expect(svcRuns()).toBe(false);
  expect(output('node3')).toMatch(/closed the connection to rnode1 \(the DC stopped it\)/);
  await stopAll();
}, 120_000);

test('a guest node: its connection is hosted where its container runs; when that member is killed the guest is recovered elsewhere with its service', async () => {
  await boot(true);
  const gsvc = (): boolean => existsSync(join(dir, 'guest1', 'Dummy-gsvc.state'));
  await up();
  await until(
    'gsvc to run on guest1 through node3',
    async () => gsvc() && (await hosts('guest1')).join() === 'node3',
    60_000,
  );
  expect(output('node3')).toMatch(/node3: hosting the connection to guest1 .* for DC node1/);
  // The guest's daemons: its agents' processes carry its mark too, and a child the daemon
  // has forked but not yet exec'd its agent in shows the daemon's command line: not counted.
  const guests = (): number[] => {
    const daemons = clusterProcesses(c.cluster).filter((pid) => {
      try {
        return (
          readFileSync(`/proc/${pid}/environ`, 'latin1')
            .split('\0')
            .some((e) => e.startsWith('REMORA_MACHINE=') && e.endsWith('/guest1')) &&
          readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes('remoted')
        );
      } catch {
        return false;
      }
    });
    const parent = (pid: number): number => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      } catch {
        return 0;
      }
    };
    return daemons.filter((pid) => !daemons.includes(parent(pid)));
  };
  const described = (pids: number[]): string =>
    pids
      .map((pid) => {
        try {
          const env = readFileSync(`/proc/${pid}/environ`, 'latin1')
            .split('\0')
            .find((e) => e.startsWith('REMORA_MACHINE='));
          return `${pid} ${env} ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ')}`;
        } catch {
          return `${pid} gone`;
        }
      })
      .join('\n');
  expect(described(guests())).toMatch(/^\d+ REMORA_MACHINE=node3\/guest1 [^\n]*$/);
  let twice = 0;
  let seen = '';
  const watch = setInterval(() => {
    const g = guests();
    if (g.length > 1 && !seen) seen = described(g);
    twice = Math.max(twice, g.length);
  }, 50);
  const killedAt = Date.now();
  c.procs.get('node3')!.kill('SIGKILL');
  await until(
    'guest1 and gsvc to be recovered through node2',
    async () =>
      gsvc() && (await hosts('guest1')).join() === 'node2' && (await hosts()).join() === 'node2',
    40_000,
  );
  clearInterval(watch);
  console.log(
    `distributed guest: host node3 killed, guest1 and its service back through node2 ${Date.now() - killedAt} ms later`,
  );
  expect(output('node2')).toMatch(/node2: hosting the connection to guest1 .* for DC node1/);
  expect(
    seen ? `${seen}\n--- guest1.log\n${readFileSync(join(dir, 'guest1.log'), 'utf8')}` : '',
  ).toBe('');
  expect(twice).toBeLessThanOrEqual(1);
  expect(described(guests())).toMatch(/^\d+ REMORA_MACHINE=node2\/guest1 [^\n]*$/);
  expect(svcRuns()).toBe(true);
  // Stopping a member leaves its resources running (as a stopped controller does): power the
  // guest off as its host would be.
  c.terminate();
  await until('the members to exit', () => c.members.every((m) => !c.running(m.name)), 15_000);
  for (const pid of guests()) process.kill(pid, 'SIGKILL');
  await stopAll();
}, 120_000);
