// Test fixture: modifies a CIB store in a loop, printing each committed
// version, until killed. Run by store.test.ts and journal.test.ts (kill -9
// at random moments).
//   crash-writer.ts FILE            configuration changes (full writes), prints the epoch
//   crash-writer.ts FILE status     status updates (journal appends, frequent full
//                                   writes), prints num_updates; update i records call-id i
//                                   as op r<i % 50>_last_0 on node n<(i % 50) % 8>
import { CibStore, createElement, nodeStateElement, setClusterProperty } from '../src';
import type { XmlDocument } from '../src';

export function recordCall(doc: XmlDocument, i: number): void {
  const j = i % 50;
  const ns = nodeStateElement(doc, `n${j % 8}`);
  const op = createElement('lrm_rsc_op', { id: `r${j}_last_0`, 'call-id': String(i) });
  const at = ns.children.findIndex(
    (c) => c.type === 'element' && c.attributes.get('id') === `r${j}_last_0`,
  );
  if (at >= 0) ns.children[at] = op;
  else ns.children.push(op);
  ns.selfClosing = false;
}

async function main(): Promise<void> {
  const file = process.argv[2]!;
  if (process.argv[3] === 'status') {
    const store = await CibStore.open(file, { compactAfterBytes: 4000 });
    for (;;) {
      const i = store.version.numUpdates;
      await store.modify((doc) => recordCall(doc, i), { scope: 'status' });
      process.stdout.write(`${store.version.numUpdates}\n`);
    }
  }
  const store = await CibStore.open(file);
  const padding = 'x'.repeat(200_000); // make each write take a while
  for (let i = 0; ; i++) {
    await store.modify((doc) => {
      setClusterProperty(doc, `p${i % 50}`, `${i}-${padding}`);
    });
    process.stdout.write(`${store.version.epoch}\n`);
  }
}

if (require.main === module) void main();
