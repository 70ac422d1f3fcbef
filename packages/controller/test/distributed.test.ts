import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupMembers, DistributedMembers } from './distributed-members';

// Distributed mode: three cluster-node processes (dist/bin/cluster-node.js, built by setup),
// each on its own loopback address with its own executor; the DC is elected, the DC dies,
// another takes over, fences it and recovers its resources.
let c: DistributedMembers;

afterAll(cleanupMembers);

function where(rsc: string): string[] {
  return ['node1', 'node2', 'node3'].filter((n) =>
    existsSync(join(c.runDir(n), `Dummy-${rsc}.state`)),
  );
}

const output = (name: string): string => c.output.get(name) ?? '';

/** A fresh cluster of three members on 127.0.0.11-13, r1..r3 each preferring its node. */
async function prepare(): Promise<void> {
  c = await DistributedMembers.create(10);
  const rsc = (r: string): string =>
    `<primitive class="ocf" id="${r}" provider="heartbeat" type="Dummy"><operations><op id="${r}-mon" name="monitor" interval="2s"/></operations></primitive>`;
  await c.configure(`<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="true"/><nvpair id="opts-st" name="stonith-timeout" value="20s"/></cluster_property_set></crm_config>
    <nodes>${c.nodesXml}</nodes>
    <resources>
      ${c.fenceDeviceXml}
      ${rsc('r1')}${rsc('r2')}${rsc('r3')}
    </resources>
    <constraints>${['r1', 'r2', 'r3'].map((r, i) => `<rsc_location id="${r}-pref" rsc="${r}" node="node${i + 1}" score="100"/>`).join('')}</constraints>
  </configuration>
  <status/>
</cib>
`);
}

test('three cluster-node processes elect a DC; when it dies (kill -9) another takes over, fences it and recovers its resources', async () => {
  await prepare();
  for (const m of c.members) c.spawn(m.name);
  // node1 (lowest id) leads; every resource runs on its preferred node.
  const upMs = await c.until(
    'the cluster to come up',
    () =>
      where('r1').join() === 'node1' &&
      where('r2').join() === 'node2' &&
      where('r3').join() === 'node3',
    60_000,
  );
  expect(output('node1')).toMatch(/node1: became DC/);
  expect(output('node2')).not.toMatch(/became DC/);

  // The DC dies.
  let double = '';
  const watch = setInterval(() => {
    for (const r of ['r1', 'r2', 'r3'])
      if (where(r).length > 1) double ||= `${r} on ${where(r).join(' and ')}`;
  }, 20);
  const killedAt = Date.now();
  c.procs.get('node1')!.kill('SIGKILL');
  await c.until('node2 to take over', () => /node2: became DC/.test(output('node2')), 20_000);
  const takeoverMs = Date.now() - killedAt;
  await c.until(
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
  expect(readdirSync(c.runDir('node1'))).toEqual([]);
  expect(output('node3')).toMatch(/DC node2/);

  await c.stop();
}, 90_000);

test('a member that starts late is added to the running controller: the DC stays in charge and nothing else restarts', async () => {
  await prepare();
  c.spawn('node2');
  c.spawn('node3');
  // Without node1 (fenced as unseen after dc-deadtime), node2 leads; r1 runs elsewhere.
  await c.until(
    'node2 and node3 to run everything',
    () =>
      /node2: became DC/.test(output('node2')) &&
      where('r1').length === 1 &&
      where('r2').join() === 'node2' &&
      where('r3').join() === 'node3',
    60_000,
  );
  const started = (r: string): number =>
    statSync(join(c.runDir(where(r)[0]!), `Dummy-${r}.state`)).mtimeMs;
  const before = [started('r2'), started('r3')];

  const joinedAt = Date.now();
  c.spawn('node1');
  await c.until('node1 to join', () => /node2: node1 joined/.test(output('node2')), 30_000);
  await c.until('r1 to move to node1', () => where('r1').join() === 'node1', 30_000);
  console.log(
    `distributed: node1 started late, joined and runs r1 ${Date.now() - joinedAt} ms later`,
  );
  // The DC stayed in charge: no step down, no new election, nobody else re-probed or restarted.
  expect(output('node2').match(/became DC/g)).toHaveLength(1);
  expect(output('node2')).not.toMatch(/no longer DC/);
  expect(output('node1')).not.toMatch(/became DC/);
  expect([started('r2'), started('r3')]).toEqual(before);
  expect(where('r2')).toEqual(['node2']);
  expect(where('r3')).toEqual(['node3']);

  await c.stop();
}, 120_000);
