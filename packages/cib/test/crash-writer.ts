// Test fixture: modifies a CIB store in a loop, printing each committed
// version, until killed. Run by store.test.ts (kill -9 at random moments).
import { CibStore, setClusterProperty } from '../src';

async function main(): Promise<void> {
  const file = process.argv[2]!;
  const store = await CibStore.open(file);
  const padding = 'x'.repeat(200_000); // make each write take a while
  for (let i = 0; ; i++) {
    await store.modify((doc) => {
      setClusterProperty(doc, `p${i % 50}`, `${i}-${padding}`);
    });
    process.stdout.write(`${store.version.epoch}\n`);
  }
}

void main();
