import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExitCode } from '../src';
import { runRemora } from './run-remora';

const GOOD = `<cib epoch="1" num_updates="0" admin_epoch="0"><configuration><crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config><nodes><node id="1" uname="node1"/></nodes><resources><primitive id="d1" class="ocf" provider="heartbeat" type="Dummy"/></resources><constraints/></configuration><status/></cib>`;

describe('remora verify and remora cib format', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'remora-cli-cib-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test('verify: a valid CIB exits 0 silently; the same file is valid for crm_verify', async () => {
    const file = path.join(dir, 'good.xml');
    await writeFile(file, GOOD);
    expect(await runRemora(['verify', '-x', file])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await runRemora(['verify'], { ...process.env, CIB_file: file })).toMatchObject({
      code: 0,
    });
  });

  test('verify: errors name the path and exit 78 (CONFIG)', async () => {
    const r = await runRemora([
      'verify',
      '-X',
      GOOD.replace(
        '<constraints/>',
        '<constraints><rsc_order id="x" first="d1" then="ghost"/></constraints>',
      ),
    ]);
    expect(r.code).toBe(ExitCode.CONFIG);
    expect(r.stderr).toMatch(
      /^error: \/cib\/configuration\/constraints\/rsc_order\[@id='x'\]: then 'ghost' is not a resource$/m,
    );
    const json = await runRemora([
      'verify',
      '-X',
      '<cib><configuration/></cib>',
      '--output-as',
      'json',
    ]);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: false });
  });

  test('verify: not XML exits 65 with line and column; a missing file exits 66', async () => {
    const bad = await runRemora(['verify', '-X', '<cib>\n<configuration>\n</cib>']);
    expect(bad.code).toBe(ExitCode.DATAERR);
    expect(bad.stderr).toMatch(/xml-text:3:1/);
    const missing = await runRemora(['verify', '-x', path.join(dir, 'nope.xml')]);
    expect(missing.code).toBe(ExitCode.NOINPUT);
    expect(missing.stderr).toMatch(/cannot read CIB '.*nope.xml': no such file/);
    expect((await runRemora(['verify'], { ...process.env, CIB_file: '' })).code).toBe(
      ExitCode.USAGE,
    );
  });

  test('cib format pretty-prints, and -i rewrites the file keeping its content', async () => {
    const file = path.join(dir, 'fmt.xml');
    await writeFile(file, GOOD);
    const r = await runRemora(['cib', 'format', file]);
    expect(r.stdout).toMatch(
      /^<cib epoch="1" num_updates="0" admin_epoch="0">\n {2}<configuration>\n {4}<crm_config>/,
    );
    expect((await runRemora(['cib', 'format', '-i', file])).code).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(r.stdout);
    const bad = path.join(dir, 'bad.xml');
    await writeFile(bad, '<cib>');
    const b = await runRemora(['cib', 'format', '-i', bad]);
    expect(b.code).toBe(ExitCode.DATAERR);
    expect(await readFile(bad, 'utf8')).toBe('<cib>');
  });
});

describe('remora verify on huge input', () => {
  test('a 50 MB file gets a clear error, not a stall or a stack trace', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'remora-cli-huge-'));
    try {
      const file = path.join(dir, 'huge.xml');
      await writeFile(file, `<cib>${' '.repeat(50 * 1024 * 1024)}</cib>`);
      const r = await runRemora(['verify', '-x', file]);
      expect(r.code).toBe(ExitCode.DATAERR);
      expect(r.stderr).toMatch(/huge\.xml:1:1: the input is 50\.0 MiB, over the 32 MiB limit/);
      expect(r.stderr).not.toMatch(/at .*\.js/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
