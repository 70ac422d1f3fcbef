import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseXml, readCib } from '@remora/cib';
import { ExitCode } from '../src';
import { remoraBin, runRemora } from './run-remora';
import type { RemoraRun } from './run-remora';

// The operator commands on a CIB file (CIB_file=... or -x, as Pacemaker's
// tools): the same edits as on a live cluster, written back to the file.
// The fixture is a CIB written by the remora controller: node1 (DC), node2
// in standby, guest1 (a guest node run by vm1 on node1), two Dummy services.
const FIXTURE = path.join(__dirname, 'fixtures', 'guest-cluster.xml');

let dir: string;
let cib: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'remora-cli-offline-'));
});
beforeEach(async () => {
  cib = path.join(dir, 'cib.xml');
  await copyFile(FIXTURE, cib);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function offline(...args: string[]): Promise<RemoraRun> {
  return runRemora(args, { ...process.env, CIB_file: cib, REMORA_NODE: 'node1' });
}

async function model(): Promise<ReturnType<typeof readCib>> {
  return readCib(parseXml(await readFile(cib, 'utf8')));
}

test('attribute: node attributes (permanent, transient) and cluster properties, written to the file with a version bump', async () => {
  const before = await model();
  expect(await offline('attribute', '-N', 'guest1', '-n', 'rack', '-v', '4')).toEqual({
    code: 0,
    stdout: '',
    stderr: '',
  });
  const after = await model();
  expect(after.version.epoch).toBe(before.version.epoch + 1);
  // A guest node gets a <node type="remote"> entry for its permanent attributes, as in Pacemaker.
  expect(await readFile(cib, 'utf8')).toMatch(
    /<node id="guest1" uname="guest1" type="remote"><instance_attributes id="nodes-guest1">/,
  );
  expect((await offline('attribute', '-N', 'guest1', '-n', 'rack', '-q')).stdout).toBe('4\n');
  // No --node with a lifetime: the node this runs on ($REMORA_NODE, else the host name).
  expect((await offline('attribute', '-l', 'reboot', '-n', 'pingd', '-v', '100')).code).toBe(0);
  expect((await model()).status.find((s) => s.uname === 'node1')?.transientAttributes.pingd).toBe(
    '100',
  );
  expect((await model()).version.numUpdates).toBe(after.version.numUpdates + 1);
  expect(await offline('attribute', '-n', 'stonith-enabled')).toEqual({
    code: 0,
    stdout: 'scope=crm_config  name=stonith-enabled value=false\n',
    stderr: '',
  });
  expect(
    (await offline('attribute', '-n', 'no-quorum-policy', '-d', 'stop', '--output-as', 'json'))
      .stdout,
  ).toBe(
    `${JSON.stringify([{ scope: 'crm_config', name: 'no-quorum-policy', value: 'stop' }], null, 2)}\n`,
  );
  const missing = await offline('attribute', '-N', 'node1', '-n', 'nope');
  expect(missing).toEqual({
    code: ExitCode.NOSUCH,
    stdout: '',
    stderr: "remora: permanent attribute 'nope' is not set on node node1\n",
  });
  expect((await offline('attribute', '-t', 'bogus', '-n', 'x')).code).toBe(ExitCode.USAGE);
  expect((await offline('attribute', '-n', 'x', '-v', '1', '-D')).code).toBe(ExitCode.USAGE);
});

test('-x names the file; a missing or broken file has its own exit code', async () => {
  expect(
    (await runRemora(['standby', '-N', 'node2', '-x', cib, '-q'], { ...process.env })).stdout,
  ).toBe('on\n');
  const missing = await runRemora(['standby', '-x', path.join(dir, 'none.xml')]);
  expect(missing.code).toBe(ExitCode.NOINPUT);
  expect(missing.stderr).toMatch(/cannot read CIB '.*none\.xml': no such file/);
  const broken = path.join(dir, 'broken.xml');
  await copyFile(__filename, broken);
  expect((await runRemora(['standby', '-x', broken])).code).toBe(ExitCode.DATAERR);
});

test('standby on/off, promotion-score and node remove on a file', async () => {
  expect(await offline('standby', 'off', '-N', 'node2')).toEqual({
    code: 0,
    stdout: 'node2: standby off\n',
    stderr: '',
  });
  expect((await offline('standby', '-N', 'node2')).stdout).toBe(
    'scope=nodes  name=standby value=off\n',
  );
  expect((await offline('standby', 'on')).stdout).toBe('node1: standby on\n');
  expect((await offline('standby', 'maybe')).code).toBe(ExitCode.USAGE);
  expect((await offline('promotion-score', '-r', 'svc-node', '-N', 'node2', '-v', '5')).code).toBe(
    0,
  );
  expect(
    (await model()).status.find((s) => s.uname === 'node2')?.transientAttributes['master-svc-node'],
  ).toBe('5');
  expect((await offline('promotion-score', '-v', 'high')).code).toBe(ExitCode.USAGE);
  expect((await offline('node', 'remove', 'node1')).stderr).toMatch(/node1 is online/);
  expect((await offline('node', 'name')).stdout).toBe('node1\n');
});

test('resource --move/--ban/--clear/--cleanup write what crm_resource writes', async () => {
  expect((await offline('resource', '--move', '-r', 'svc-node', '-N', 'node2')).stdout).toBe(
    'svc-node will move to node2 (constraint cli-prefer-svc-node)\n  until removed with: remora resource --clear -r svc-node\n',
  );
  expect(await readFile(cib, 'utf8')).toMatch(
    /<rsc_location id="cli-prefer-svc-node" rsc="svc-node" node="node2" score="INFINITY"\/>/,
  );
  expect(
    (await offline('resource', '--ban', '-r', 'svc-guest', '-N', 'guest1', '-u', 'PT1H')).code,
  ).toBe(0);
  const banned = (await model()).constraints.find((c) => c.id === 'cli-ban-svc-guest-on-guest1');
  expect(banned).toMatchObject({ kind: 'location', rsc: 'svc-guest' });
  expect((await offline('resource', '--clear', '-r', 'svc-guest')).stdout).toBe(
    'Removing constraint: cli-ban-svc-guest-on-guest1\n',
  );
  expect((await offline('resource', '--cleanup', '-r', 'svc-node', '-N', 'node1')).stdout).toBe(
    'Cleaned up svc-node on node1\n',
  );
  expect(
    (await model()).status
      .find((s) => s.uname === 'node1')
      ?.resources.some((r) => r.id === 'svc-node'),
  ).toBe(false);
  expect((await offline('resource', '--restart', '-r', 'svc-node')).code).toBe(
    ExitCode.UNIMPLEMENT_FEATURE,
  );
  expect(
    (await offline('resource', '--move', '-r', 'svc-node', '-N', 'node2', '--wait')).code,
  ).toBe(ExitCode.UNIMPLEMENT_FEATURE);
  expect((await offline('resource', '-r', 'svc-node')).code).toBe(ExitCode.USAGE);
  expect((await offline('resource', '--move', '--ban', '-r', 'svc-node')).code).toBe(
    ExitCode.USAGE,
  );
  expect((await offline('resource', '--ban', '-r', 'ghost', '-N', 'node1')).stderr).toBe(
    "remora: no resource 'ghost' in the configuration\n",
  );
});

/** Drop the lines that differ by tool or by moment. */
function stable(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^ {2}\* (Stack|Current DC|Last updated|Last change):/.test(l))
    .join('\n');
}

async function crmMon(file: string): Promise<string> {
  const { stdout } = await promisify(execFile)('crm_mon', ['-1', '-r', '-f'], {
    env: { ...process.env, CIB_file: file, TZ: 'UTC' },
  });
  return stdout;
}

test('status prints what crm_mon -1 -r -f prints for the same CIB (standby, maintenance, disabled, unmanaged)', async () => {
  const status = async (): Promise<string> =>
    (await runRemora(['status'], { ...process.env, CIB_file: cib, TZ: 'UTC' })).stdout;
  expect(stable(await status())).toBe(stable(await crmMon(cib)));
  expect(await status()).toMatch(/^ {2}\* Node node2: standby$/m);
  expect(
    (await offline('resource', '-r', 'svc-node', '--meta', '-p', 'target-role', '-v', 'Stopped'))
      .stdout,
  ).toBe("Set 'svc-node' option: name=target-role value=Stopped\n");
  expect(
    (await offline('resource', '-r', 'svc-guest', '--meta', '-p', 'is-managed', '-v', 'false'))
      .code,
  ).toBe(0);
  expect((await offline('attribute', '-N', 'node1', '-n', 'maintenance', '-v', 'true')).code).toBe(
    0,
  );
  const text = await status();
  expect(stable(text)).toBe(stable(await crmMon(cib)));
  expect(text).toMatch(
    /^ {2}\* svc-node\t\(ocf:heartbeat:Dummy\):\t Started node1 \(disabled, unmanaged\)$/m,
  );
  expect(text).toMatch(/^ {2}\* GuestNode guest1: maintenance$/m);
  expect(text).toMatch(/^ {2}\* 4 resource instances configured \(1 DISABLED\)$/m);
  expect((await offline('resource', '-r', 'svc-node', '--meta', '-d', 'target-role')).stdout).toBe(
    "Deleted 'svc-node' option: name=target-role\n",
  );
});

/** The nvpairs and ticket states of a CIB file, for comparing with what Pacemaker's tools write. */
async function edited(file: string): Promise<string[]> {
  const xml = await readFile(file, 'utf8');
  return [
    ...[
      ...xml.matchAll(/<(instance_attributes|utilization|meta_attributes) id="(svc-node-[^"]+)"/g),
    ].map((m) => `${m[1]} ${m[2]}`),
    ...[...xml.matchAll(/<nvpair id="(svc-node-[^"]+)" name="([^"]+)" value="([^"]*)"/g)].map(
      (m) => `${m[1]} ${m[2]}=${m[3]}`,
    ),
    ...[...xml.matchAll(/<ticket_state ([^>]*?)\/?>/g)].map((m) =>
      m[1]!
        .replace(/ last-granted="\d+"/, ' last-granted=T')
        .split(' ')
        .sort()
        .join(' '),
    ),
  ].sort();
}

test('resource parameters, utilization and tickets: written where crm_resource and crm_ticket write them', async () => {
  const theirs = path.join(dir, 'theirs.xml');
  await copyFile(FIXTURE, theirs);
  const pacemaker = (tool: string, ...args: string[]): Promise<unknown> =>
    promisify(execFile)(tool, args, { env: { ...process.env, CIB_file: theirs } });
  const steps: string[][] = [
    ['resource', '-r', 'svc-node', '-p', 'fake', '-v', '1'],
    ['resource', '-r', 'svc-node', '-p', 'state', '-v', '/tmp/x'],
    ['resource', '-r', 'svc-node', '-d', 'state'],
    ['resource', '-r', 'svc-node', '-z', '-p', 'memory', '-v', '512'],
    ['ticket', '-t', 'ticketA', '--grant', '--force'],
    ['ticket', '-t', 'ticketB', '--standby'],
    ['ticket', '-t', 'ticketA', '--revoke', '--force'],
  ];
  for (const step of steps) {
    expect(await offline(...step)).toMatchObject({ code: 0 });
    const [cmd, ...args] = step;
    await pacemaker(cmd === 'resource' ? 'crm_resource' : 'crm_ticket', ...args);
    expect(await edited(cib)).toEqual(await edited(theirs));
  }
  expect(await edited(cib)).toEqual(
    expect.arrayContaining([
      'instance_attributes svc-node-instance_attributes',
      'svc-node-instance_attributes-fake fake=1',
      'svc-node-utilization-memory memory=512',
      'granted="false" id="ticketA" last-granted=T',
      'id="ticketB" standby="true"',
    ]),
  );
  expect((await offline('resource', '-r', 'svc-node', '-g', 'fake')).stdout).toBe('1\n');
  expect((await offline('resource', '-r', 'svc-node', '-z', '-g', 'memory')).stdout).toBe('512\n');
  expect(await offline('resource', '-r', 'svc-node', '-g', 'nope')).toEqual({
    code: ExitCode.NOSUCH,
    stdout: '',
    stderr: "remora: 'svc-node' has no parameter nope\n",
  });
  expect((await offline('resource', '-r', 'svc-node', '--meta', '-z', '-g', 'x')).code).toBe(
    ExitCode.USAGE,
  );
  expect((await offline('ticket', '-t', 'ticketA', '--grant')).code).toBe(
    ExitCode.INSUFFICIENT_PRIV,
  );
  expect((await offline('ticket', '-t', 'ticketA', '-G', 'granted')).stdout).toBe('false\n');
  expect((await offline('ticket', '-t', 'ticketZ', '-G', 'granted')).code).toBe(ExitCode.NOSUCH);
  expect((await offline('ticket', '-l')).stdout).toMatch(
    /^ticketA\trevoked {11}last-granted='.+'\nticketB\trevoked \[standby\]\n$/,
  );
  expect((await offline('ticket', '-t', 'bad id', '-s')).code).toBe(ExitCode.INVALID_PARAM);
});

test('status --watch redraws when the CIB changes and ends on SIGINT', async () => {
  const watch = spawn(remoraBin, ['status', '--watch', '-i', '200ms', '-x', cib], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TZ: 'UTC' },
  });
  let out = '';
  watch.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const until = async (what: () => boolean): Promise<void> => {
    const t = Date.now();
    while (!what()) {
      if (Date.now() - t > 10_000) throw new Error(`--watch printed: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await until(() => out.includes('Node node2: standby'));
    const draws = (): number => out.split('Cluster Summary:').length - 1;
    await new Promise((r) => setTimeout(r, 600));
    expect(draws()).toBe(1); // nothing changed but the clock: no redraw
    expect((await offline('standby', 'off', '-N', 'node2')).code).toBe(0);
    await until(() => draws() === 2);
    expect(out.split('Cluster Summary:')[2]).toMatch(/\* Online: \[ node1 node2 \]/);
  } finally {
    watch.kill('SIGINT');
    await new Promise((r) => watch.once('exit', r));
  }
  expect(watch.exitCode).toBe(0);
});

test('every cluster command has --help with an example', async () => {
  for (const cmd of [
    ['status'],
    ['node', 'list'],
    ['attribute'],
    ['promotion-score'],
    ['standby'],
    ['node', 'name'],
    ['node', 'remove'],
    ['resource'],
  ]) {
    const r = await runRemora([...cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Example/);
  }
});
