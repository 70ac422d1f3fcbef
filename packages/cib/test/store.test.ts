import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CibConflictError,
  CibDigestError,
  CibStore,
  CibStructureError,
  MemoryBackend,
  createElement,
  firstChild,
  setClusterProperty,
} from '../src';
import type { CibChange } from '../src';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'remora-cib-store-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('the embedded CIB store', () => {
  test('creates an empty CIB, persists modifications with version bumps, reopens them', async () => {
    const file = join(dir, 'cib.xml');
    {
      await using store = await CibStore.open(file);
      expect(store.version).toEqual({ adminEpoch: 0, epoch: 0, numUpdates: 0 });
      await store.modify((doc) => setClusterProperty(doc, 'stonith-enabled', 'false'));
      expect(store.version).toEqual({ adminEpoch: 0, epoch: 1, numUpdates: 0 });
      await store.modify((doc) => doc.root.attributes.set('have-quorum', '1'), { scope: 'status' });
      expect(store.version).toEqual({ adminEpoch: 0, epoch: 1, numUpdates: 1 });
    }
    await using again = await CibStore.open(file);
    expect(again.version).toEqual({ adminEpoch: 0, epoch: 1, numUpdates: 1 });
    expect(again.cib.properties['stonith-enabled']).toBe('false');
    expect((await readFile(`${file}.sig`, 'utf8')).trim()).toMatch(/^[0-9a-f]{32}$/);
  });

  test('a modification that breaks the CIB is rejected and changes nothing', async () => {
    const file = join(dir, 'cib.xml');
    await using store = await CibStore.open(file);
    const before = store.xml;
    await expect(
      store.modify((doc) => {
        const resources = firstChild(firstChild(doc.root, 'configuration')!, 'resources')!;
        resources.children.push(
          createElement('primitive', { id: 'bad', class: 'ocf', type: 'Dummy' }),
        );
      }),
    ).rejects.toThrow(CibStructureError);
    expect(store.xml).toBe(before);
    expect(await readFile(file, 'utf8')).toBe(before);
    expect(store.version.epoch).toBe(0);
  });

  test('expectVersion detects lost updates', async () => {
    await using store = await CibStore.open(undefined);
    const seen = store.version;
    await store.modify((doc) => setClusterProperty(doc, 'a', '1'));
    await expect(
      store.modify((doc) => setClusterProperty(doc, 'a', '2'), { expectVersion: seen }),
    ).rejects.toThrow(CibConflictError);
  });

  test('concurrent modifications are serialized, each with its own version', async () => {
    await using store = await CibStore.open(join(dir, 'cib.xml'));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.modify((doc) => setClusterProperty(doc, `p${i}`, String(i))),
      ),
    );
    expect(store.version.epoch).toBe(20);
    expect(Object.keys(store.cib.properties)).toHaveLength(20);
  });

  test('changes() streams each change until close', async () => {
    const store = await CibStore.open(undefined);
    const seen: CibChange[] = [];
    const reading = (async () => {
      for await (const c of store.changes()) seen.push(c);
    })();
    await new Promise((r) => setImmediate(r));
    await store.modify((doc) => setClusterProperty(doc, 'x', '1'), { reason: 'test' });
    await store.modify((doc) => doc.root.attributes.set('have-quorum', '1'), { scope: 'status' });
    await store.close();
    await reading;
    expect(seen.map((c) => [c.scope, c.version.epoch, c.version.numUpdates, c.reason])).toEqual([
      ['configuration', 1, 0, 'test'],
      ['status', 1, 1, ''],
    ]);
    expect(seen[0]!.diff()).toEqual(
      expect.arrayContaining([
        { op: 'changed', path: '/cib', attributes: { epoch: { old: '0', new: '1' } } },
        {
          op: 'added',
          path: "/cib/configuration/crm_config/cluster_property_set[@id='cib-bootstrap-options']",
        },
      ]),
    );
    expect(seen[1]!.diff()).toEqual([
      {
        op: 'changed',
        path: '/cib',
        attributes: { num_updates: { old: '0', new: '1' }, 'have-quorum': { new: '1' } },
      },
    ]);
  });

  test('history keeps the last versions, bounded', async () => {
    await using store = await CibStore.open(undefined, { historySize: 3 });
    for (let i = 0; i < 5; i++)
      await store.modify((doc) => setClusterProperty(doc, 'n', String(i)), { reason: `step ${i}` });
    expect(store.history().map((h) => [h.version.epoch, h.reason])).toEqual([
      [2, 'step 2'],
      [3, 'step 3'],
      [4, 'step 4'],
    ]);
    expect(store.history()[2]!.xml).toMatch(/name="n" value="3"/);
  });

  test('any backend with load/save works (here an in-memory one)', async () => {
    const backend = new MemoryBackend();
    {
      await using store = await CibStore.open(backend);
      await store.modify((doc) => setClusterProperty(doc, 'x', 'y'));
    }
    await using again = await CibStore.open(backend);
    expect(again.cib.properties.x).toBe('y');
  });

  test('a CIB changed behind the store is refused with a message naming the file', async () => {
    const file = join(dir, 'cib.xml');
    await (await CibStore.open(file)).close();
    await writeFile(file, (await readFile(file, 'utf8')).replace('epoch="0"', 'epoch="9"'));
    await expect(CibStore.open(file)).rejects.toThrow(CibDigestError);
    await expect(CibStore.open(file)).rejects.toThrow(/cib\.xml: content does not match/);
  });

  test('kill -9 during writes never loses a committed version nor corrupts the file', async () => {
    const file = join(dir, 'cib.xml');
    let committed = 0;
    for (let round = 0; round < 5; round++) {
      const child = spawn(
        process.execPath,
        ['-r', 'ts-node/register/transpile-only', join(__dirname, 'crash-writer.ts'), file],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
          env: {
            ...process.env,
            TS_NODE_PROJECT: join(__dirname, '../../../examples/tsconfig.json'),
          },
        },
      );
      let last = committed;
      child.stdout.on('data', (b: Buffer) => {
        const lines = b.toString().trim().split('\n');
        last = Number(lines[lines.length - 1]);
      });
      // Wait for a few commits, then kill at a random moment.
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (last >= committed + 3) {
            clearInterval(check);
            setTimeout(resolve, Math.random() * 50);
          }
        }, 5);
      });
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      await using store = await CibStore.open(file);
      expect(store.version.epoch).toBeGreaterThanOrEqual(last);
      committed = store.version.epoch;
    }
    expect(committed).toBeGreaterThanOrEqual(15);
  }, 60_000);
});
