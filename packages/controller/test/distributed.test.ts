import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FENCE_AGENT_DIR, clusterProcesses, freePort, killCluster } from '../src';
import type { ClusterMember } from '../src';

// Distributed mode: three cluster-node processes (dist/bin/cluster-node.js, built by setup),
// each on its own loopback address with its own executor; the DC is elected, the DC dies,
// another takes over, fences it and recovers its resources.
const CLUSTER = `dist-${randomUUID()}`;
const KEY = randomBytes(64);
const BIN = resolve(__dirname, '../dist/bin/cluster-node.js');
let dir: string;
const procs = new Map<string, ChildProcess>();
const output = new Map<string, string>();

const dirs: string[] = [];
const clusters = [CLUSTER];
afterAll(async () => {
  for (const p of procs.values())
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  for (const c of clusters) killCluster(c);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function where(rsc: string): string[] {
  return ['node1', 'node2', 'node3'].filter((n) =>
    existsSync(join(dir, 'run', n, `Dummy-${rsc}.state`)),
  );
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<number> {
  const t = Date.now();
  while (!ok()) {
    if (Date.now() - t > timeoutMs)
      throw new Error(
        `timed out waiting for ${what}\n${[...output].map(([n, o]) => `--- ${n}\n${o.slice(-3000)}`).join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - t;
}

/** A fresh cluster directory with three members' configurations; returns the members. */
async function prepare(cluster: string): Promise<ClusterMember[]> {
  dir = await mkdtemp(join(tmpdir(), 'remora-ctl-dist-'));
  dirs.push(dir);
  const keyFile = join(dir, 'authkey');
  await writeFile(keyFile, KEY, { mode: 0o400 });
  const members: ClusterMember[] = [];
  for (let i = 1; i <= 3; i++) {
    const host = `127.0.0.${10 + i}`;
    members.push({
      name: `node${i}`,
      id: i,
      peer: `${host}:${await freePort(host)}`,
      executor: `${host}:${await freePort(host)}`,
    });
  }
  const rsc = (r: string): string =>
    `<primitive class="ocf" id="${r}" provider="heartbeat" type="Dummy"><operations><op id="${r}-mon" name="monitor" interval="2s"/></operations></primitive>`;
  const cib = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="true"/><nvpair id="opts-st" name="stonith-timeout" value="20s"/></cluster_property_set></crm_config>
    <nodes>${members.map((m) => `<node id="${m.id}" uname="${m.name}"/>`).join('')}</nodes>
    <resources>
      <primitive class="stonith" id="fence-local" type="fence_remora"><instance_attributes id="f-ia"><nvpair id="f-rd" name="run_dir" value="${join(dir, 'run')}"/><nvpair id="f-cl" name="cluster" value="${cluster}"/></instance_attributes></primitive>
      ${rsc('r1')}${rsc('r2')}${rsc('r3')}
    </resources>
    <constraints>${['r1', 'r2', 'r3'].map((r, i) => `<rsc_location id="${r}-pref" rsc="${r}" node="node${i + 1}" score="100"/>`).join('')}</constraints>
  </configuration>
  <status/>
</cib>
`;
  const cibFile = join(dir, 'cib.xml');
  await writeFile(cibFile, cib);
  for (const m of members) {
    const stateDir = join(dir, 'run', m.name);
    await mkdir(stateDir, { recursive: true });
    const config = join(dir, `${m.name}.json`);
    await writeFile(
      config,
      JSON.stringify({
        name: m.name,
        members,
        authkey: keyFile,
        cib: cibFile,
        stateDir,
        fenceAgentDir: FENCE_AGENT_DIR,
      }),
    );
  }
  return members;
}

/** Start a member's process (dist/bin/cluster-node.js with its configuration). */
function spawnMember(name: string, cluster: string): void {
  const p = spawn(process.execPath, [BIN, join(dir, `${name}.json`)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, REMORA_MACHINE: name, REMORA_CLUSTER: cluster },
  });
  output.set(name, '');
  const add = (b: Buffer): void => void output.set(name, output.get(name)! + b.toString());
  p.stdout!.on('data', add);
  p.stderr!.on('data', add);
  procs.set(name, p);
}

test('three cluster-node processes elect a DC; when it dies (kill -9) another takes over, fences it and recovers its resources', async () => {
  const members = await prepare(CLUSTER);
  for (const m of members) spawnMember(m.name, CLUSTER);
  // node1 (lowest id) leads; every resource runs on its preferred node.
  const upMs = await until(
    'the cluster to come up',
    () =>
      where('r1').join() === 'node1' &&
      where('r2').join() === 'node2' &&
      where('r3').join() === 'node3',
    60_000,
  );
  expect(output.get('node1')).toMatch(/node1: became DC/);
  expect(output.get('node2')).not.toMatch(/became DC/);

  // The DC dies.
  let double = '';
  const watch = setInterval(() => {
    for (const r of ['r1', 'r2', 'r3'])
      if (where(r).length > 1) double ||= `${r} on ${where(r).join(' and ')}`;
  }, 20);
  const killedAt = Date.now();
  procs.get('node1')!.kill('SIGKILL');
  await until('node2 to take over', () => /node2: became DC/.test(output.get('node2')!), 20_000);
  const takeoverMs = Date.now() - killedAt;
  await until(
    'r1 to be recovered',
    () => where('r1').length === 1 && where('r1')[0] !== 'node1',
    30_000,
  );
  const recoveredMs = Date.now() - killedAt;
  clearInterval(watch);
  console.log(
    `distributed: up in ${upMs} ms; DC killed, node2 took over in ${takeoverMs} ms; r1 recovered on ${where('r1').join()} ${recoveredMs} ms after the kill`,
  );
  expect(double).toBe('');
  expect(where('r2')).toEqual(['node2']);
  expect(where('r3')).toEqual(['node3']);
  // node1 was fenced: its run directory emptied, none of its processes left.
  expect(readdirSync(join(dir, 'run', 'node1'))).toEqual([]);
  expect(output.get('node3')).toMatch(/DC node2/);

  for (const p of procs.values())
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  await until('the processes to exit', () => clusterProcesses(CLUSTER).length === 0, 15_000);
}, 90_000);

test('a member that starts late is added to the running controller: the DC stays in charge and nothing else restarts', async () => {
  const cluster = `dist-late-${randomUUID()}`;
  clusters.push(cluster);
  await prepare(cluster);
  spawnMember('node2', cluster);
  spawnMember('node3', cluster);
  // Without node1 (fenced as unseen after dc-deadtime), node2 leads; r1 runs elsewhere.
  await until(
    'node2 and node3 to run everything',
    () =>
      /node2: became DC/.test(output.get('node2')!) &&
      where('r1').length === 1 &&
      where('r2').join() === 'node2' &&
      where('r3').join() === 'node3',
    60_000,
  );
  const started = (r: string): number =>
    statSync(join(dir, 'run', where(r)[0]!, `Dummy-${r}.state`)).mtimeMs;
  const before = [started('r2'), started('r3')];

  const joinedAt = Date.now();
  spawnMember('node1', cluster);
  await until('node1 to join', () => /node2: node1 joined/.test(output.get('node2')!), 30_000);
  await until('r1 to move to node1', () => where('r1').join() === 'node1', 30_000);
  console.log(
    `distributed: node1 started late, joined and runs r1 ${Date.now() - joinedAt} ms later`,
  );
  // The DC stayed in charge: no step down, no new election, nobody else re-probed or restarted.
  expect(output.get('node2')!.match(/became DC/g)).toHaveLength(1);
  expect(output.get('node2')).not.toMatch(/no longer DC/);
  expect(output.get('node1')).not.toMatch(/became DC/);
  expect([started('r2'), started('r3')]).toEqual(before);
  expect(where('r2')).toEqual(['node2']);
  expect(where('r3')).toEqual(['node3']);

  for (const p of procs.values())
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  await until('the processes to exit', () => clusterProcesses(cluster).length === 0, 15_000);
}, 120_000);
