import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CibStore, formatVersion } from '@remora/cib';
import { LocalCluster, remoraBinary } from '../src';

// LocalCluster keeps its CIB on disk through the journaled CibStore: status updates
// land in cib.xml.journal, readers in other processes (CibStore.read, `remora -x`) see
// them, and a restarted controller takes over from the file.
test('a local cluster journals its CIB on disk; readers see it; a restarted controller reopens it', async () => {
  await using cluster = await LocalCluster.start({
    nodes: 1,
    guests: 1,
    services: 1,
    fencing: false,
  });
  await cluster.converged(60_000);
  const journal = (): string[] =>
    readFileSync(`${cluster.cibFile}.journal`, 'utf8').trim().split('\n');
  // Status updates (results) were journaled, not written whole.
  expect(journal().length).toBeGreaterThan(1);
  const read = await CibStore.read(cluster.cibFile);
  expect(formatVersion(read.version)).toBe(formatVersion(cluster.store.version));
  expect(read.xml).toBe(cluster.store.xml);
  const { stdout } = await promisify(execFile)(remoraBinary(), ['status', '-x', cluster.cibFile]);
  expect(stdout).toMatch(/svc1\s.*Started guest1/);

  const state = join(cluster.runDir('guest1'), 'Dummy-svc1.state');
  expect(existsSync(state)).toBe(true);
  const startedAt = statSync(state).mtimeMs;
  const before = cluster.store;
  await cluster.restartController();
  expect(cluster.store).not.toBe(before);
  expect(formatVersion(cluster.store.version)).toBe(formatVersion(read.version));
  await cluster.converged(60_000);
  expect(cluster.recorded('svc1')).toEqual(['guest1']);
  expect(statSync(state).mtimeMs).toBe(startedAt);
  expect(await cluster.stop()).toBe(0);
}, 120_000);
