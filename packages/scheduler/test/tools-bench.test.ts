import { join } from 'node:path';
import { sharedDir } from '../tools/conformance';
import { deploymentCib } from '../tools/deployment-cib';
import { run } from '../tools/run';

describe('the in-repo deployment CIB generator (bench:scheduler without ../shared)', () => {
  it.each([[[]], [['--remote']], [['--groups']], [['--remote', '--groups']]])(
    'writes exactly what ../shared/bin/gen-deployment-cib 3 4 5 %j writes',
    async (flags: string[]) => {
      const gen = join(sharedDir(), 'bin', 'gen-deployment-cib');
      const r = await run(['python3', gen, '3', '4', '5', ...flags]);
      expect(r.code).toBe(0);
      const mine = deploymentCib(3, 4, 5, {
        remote: flags.includes('--remote'),
        groups: flags.includes('--groups'),
      });
      expect(mine).toBe(r.stdout);
    },
  );
});
