import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CibStore } from '@remora/cib';
import { remoraBinary } from '../src';
import { cleanupMembers, DistributedMembers } from './distributed-members';

// Distributed mode with the CIB on disk: the DC writes through a journaled CibStore
// (status updates appended to cib.xml.journal, fdatasync'd before they are answered).
// kill -9 of the controller's process while operators update the status: every update
// the CLI was told succeeded is in the file + journal (read back by CibStore.read and by
// `remora -x`, which replay the journal), and the node restarts from it.
const run = promisify(execFile);
let c: DistributedMembers;

afterAll(cleanupMembers);

const socket = (): string => join(c.dir, 'node1.sock');
const cibFile = (): string => join(c.dir, 'node1.cib.xml');
const output = (): string => c.output.get('node1') ?? '';

/** `remora` on node1 (through its executor's local socket, answered by the DC); exit 0 or throws. */
async function onNode(...args: string[]): Promise<string> {
  const { stdout } = await run(remoraBinary(), [...args, '--socket', socket()], {
    timeout: 10_000,
  });
  return stdout;
}

test('kill -9 of the controller loses no acknowledged status update; it restarts from its journaled CIB', async () => {
  c = await DistributedMembers.create(40, 1);
  await c.configure(
    `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes>${c.nodesXml}</nodes>
    <resources><primitive class="ocf" id="r1" provider="heartbeat" type="Dummy"><operations><op id="r1-mon" name="monitor" interval="1s"/></operations></primitive></resources>
    <constraints/>
  </configuration>
  <status/>
</cib>
`,
    () => ({ cibFile: cibFile(), socket: socket() }),
  );
  c.spawn('node1');
  const state = join(c.runDir('node1'), 'Dummy-r1.state');
  await c.until(
    'r1 to run and the CLI to answer',
    async () =>
      existsSync(state) &&
      (await onNode('status').then(
        (s) => /r1\s.*Started node1/.test(s),
        () => false,
      )),
    60_000,
    100,
  );
  const startedAt = statSync(state).mtimeMs;

  // Three operators update transient attributes (status updates) as fast as answers come.
  const acked = [0, 0, 0];
  let killed = false;
  const loops = acked.map(async (_, k) => {
    for (let i = 1; !killed; i++) {
      try {
        await onNode(
          'attribute',
          '-N',
          'node1',
          '-n',
          `counter${k}`,
          '-l',
          'reboot',
          '-v',
          String(i),
        );
      } catch {
        return; // the controller is gone
      }
      if (!killed) acked[k] = i;
    }
  });
  await c.until(
    'every operator to have updates acknowledged',
    () => acked.every((n) => n >= 3),
    30_000,
  );
  // Mid-run: updates in flight, r1's monitor recurring.
  c.procs.get('node1')!.kill('SIGKILL');
  await c.until('node1 to die', () => !c.running('node1'), 5000);
  killed = true;
  await Promise.all(loops);

  // Everything acknowledged is there (the update in flight at the kill may be too).
  const journal = readFileSync(`${cibFile()}.journal`, 'utf8').trim().split('\n');
  const snap = await CibStore.read(cibFile());
  const attrs = snap.cib.status.find((s) => s.uname === 'node1')!.transientAttributes;
  console.log(
    `distributed store: kill -9 after ${acked.join('/')} acknowledged updates; the file + ${journal.length - 1} journal records hold ${[0, 1, 2].map((k) => attrs[`counter${k}`]).join('/')}`,
  );
  expect(journal.length).toBeGreaterThan(1); // not compacted: the journal was needed
  for (const [k, n] of acked.entries())
    expect([String(n), String(n + 1)]).toContain(attrs[`counter${k}`]);
  expect(readFileSync(cibFile(), 'utf8')).not.toMatch(
    new RegExp(`name="counter0" value="${attrs.counter0}"`),
  );
  // r1's start is recorded; the CLI reading the file sees the journal's updates too.
  const r1 = snap.cib.status
    .find((s) => s.uname === 'node1')!
    .resources.find((r) => r.id === 'r1')!;
  expect(r1.operations.some((o) => o.operation === 'start' && o.rc === 0)).toBe(true);
  const { stdout } = await run(remoraBinary(), [
    'attribute',
    '-x',
    cibFile(),
    '-N',
    'node1',
    '-n',
    'counter0',
    '-l',
    'reboot',
    '-q',
  ]);
  expect(stdout).toBe(`${attrs.counter0}\n`);

  // node1 restarts from its CIB (journal replayed): leads again, r1 found running, not restarted.
  c.spawn('node1');
  await c.until('node1 to lead again', () => output().match(/became DC/g)?.length === 2, 30_000);
  expect(output()).toMatch(
    new RegExp(`CIB ${cibFile().replace(/[.]/g, '\\.')} at 0\\.1\\.${snap.version.numUpdates}`),
  );
  await c.until(
    'r1 to be reported running',
    () =>
      onNode('status').then(
        (s) => /r1\s.*Started node1/.test(s),
        () => false,
      ),
    30_000,
    100,
  );
  expect(statSync(state).mtimeMs).toBe(startedAt);
  await c.stop();
}, 120_000);
