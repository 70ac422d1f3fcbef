import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ExitCode } from '../src';
import { runRemora } from './run-remora';

describe('the remora binary', () => {
  it('is linked at node_modules/.bin/remora and prints its version', async () => {
    const pkg = path.resolve(__dirname, '../package.json');
    const { version } = JSON.parse(readFileSync(pkg, 'utf8')) as { version: string };
    const r = await runRemora(['--version']);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout.trim()).toBe(version);
  });

  it('exits with USAGE (64) and a hint on stderr for an unknown command', async () => {
    const r = await runRemora(['no-such-command']);
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/--help/);
  });
});
