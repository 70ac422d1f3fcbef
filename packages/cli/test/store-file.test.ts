import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CibStore, setNodeAttribute } from '@remora/cib';
import { ExitCode } from '../src';
import { runRemora } from './run-remora';
import type { RemoraRun } from './run-remora';

// A CIB file kept by a controller's CibStore (cib.xml, cib.xml.sig, and cib.xml.journal
// holding the status updates not yet written into the file): the commands that read
// CIB_file see the journal's updates without writing anything; the commands that edit it
// write as the store does, so the store opens it again with everything in it.
const FIXTURE = path.join(__dirname, 'fixtures', 'guest-cluster.xml');

let dir: string;
let cib: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'remora-cli-store-'));
  cib = path.join(dir, 'cib.xml');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function offline(...args: string[]): Promise<RemoraRun> {
  return runRemora(args, { ...process.env, CIB_file: cib, REMORA_NODE: 'node1', TZ: 'UTC' });
}

/** A store on the file with two status updates in its journal, left as a killed controller leaves it. */
async function journaled(): Promise<void> {
  const store = await CibStore.open(cib, { initial: await readFile(FIXTURE, 'utf8') });
  await store.modify(
    (doc) => setNodeAttribute(doc, 'node1', 'pingd', '7', { lifetime: 'reboot' }),
    {
      scope: 'status',
    },
  );
  await store.modify(
    (doc) => setNodeAttribute(doc, 'node1', 'standby', 'on', { lifetime: 'reboot' }),
    {
      scope: 'status',
    },
  );
  // Not closed (that would write the file whole): only the journal's handle is released.
  await store.backend.close?.();
}

const files = async (): Promise<string[]> =>
  Promise.all(['', '.sig', '.journal'].map((s) => readFile(cib + s, 'utf8')));

test('status, attribute, verify and simulate read the journal; nothing is written', async () => {
  await journaled();
  const before = await files();
  expect(before[0]).not.toMatch(/pingd/);
  expect(before[2].trim().split('\n')).toHaveLength(3); // header + 2 records

  expect(await offline('attribute', '-N', 'node1', '-n', 'pingd', '-l', 'reboot', '-q')).toEqual({
    code: 0,
    stdout: '7\n',
    stderr: '',
  });
  const status = await offline('status');
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(/^ {2}\* Node node1: standby \(with active resources\)$/m);
  expect((await offline('verify')).code).toBe(0);
  const sim = await runRemora(['simulate', '-x', cib, '-S'], { ...process.env, TZ: 'UTC' });
  expect(sim.code).toBe(0);
  expect(sim.stdout).toMatch(/Current cluster status/);
  expect(await files()).toEqual(before);
});

test('an edit goes through the store: the journal is kept, the .sig matches, the store reopens it', async () => {
  await journaled();
  expect(await offline('attribute', '-N', 'guest1', '-n', 'rack', '-v', '4')).toEqual({
    code: 0,
    stdout: '',
    stderr: '',
  });
  expect(
    await offline('attribute', '-N', 'node1', '-n', 'pingd', '-l', 'reboot', '-v', '8'),
  ).toEqual({ code: 0, stdout: '', stderr: '' });
  const [xml, , journal] = await files();
  // Written whole (compacted) by the edit: the file has every update, the journal is empty.
  expect(journal.trim().split('\n')).toHaveLength(1);
  expect(xml).toMatch(/name="standby" value="on"/);
  await using store = await CibStore.open(cib);
  const attrs = (node: string): Record<string, string> =>
    store.cib.status.find((s) => s.uname === node)!.transientAttributes;
  expect(attrs('node1').pingd).toBe('8');
  expect(attrs('node1').standby).toBe('on');
  expect(xml).toMatch(/<nvpair id="nodes-guest1-rack" name="rack" value="4"\/>/);

  // A file changed outside the store (its .sig no longer matches) is refused, naming it.
  const tampered = xml.replace('name="pingd" value="8"', 'name="pingd" value="10"');
  await store.close();
  await (await import('node:fs/promises')).writeFile(cib, tampered);
  await (await import('node:fs/promises')).writeFile(`${cib}.journal`, journal);
  const refused = await offline('attribute', '-N', 'node1', '-n', 'pingd', '-l', 'reboot', '-q');
  expect(refused.code).toBe(ExitCode.CONFIG);
  expect(refused.stderr).toMatch(/cib\.xml: content does not match .*cib\.xml\.sig/);
});
