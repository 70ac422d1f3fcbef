import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CibJournalError,
  CibPatchError,
  CibStore,
  childElements,
  cleanupResource,
  cloneDocument,
  firstChild,
  md5,
  nodeStateElement,
  parseXml,
  readCib,
  serializeXml,
  setClusterProperty,
  setNodeAttribute,
} from '../src';
import type { FileBackend, XmlDocument } from '../src';
import { recordCall } from './crash-writer';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'remora-cib-journal-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const CIB = `<cib epoch="3" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7">
  <configuration>
    <crm_config/>
    <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
    <resources><primitive id="d1" class="ocf" provider="heartbeat" type="Dummy"/></resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online">
      <lrm id="1"><lrm_resources>
        <lrm_resource id="d1" class="ocf" provider="heartbeat" type="Dummy"><lrm_rsc_op id="d1_last_0" operation="start" call-id="3" rc-code="0" interval="0"/></lrm_resource>
      </lrm_resources></lrm>
    </node_state>
  </status>
</cib>
`;

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Status edits of every shape the controller makes, and a few odd ones (moves, text, removals). */
function randomEdit(rand: () => number, i: number): (doc: XmlDocument) => void {
  const node = `node${1 + Math.floor(rand() * 3)}`;
  const k = Math.floor(rand() * 7);
  return (doc) => {
    switch (k) {
      case 0:
        recordCall(doc, i);
        return;
      case 1:
        setNodeAttribute(doc, node, `attr${i % 4}`, `v${i}`, { lifetime: 'reboot' });
        return;
      case 2: {
        const ns = nodeStateElement(doc, node);
        ns.attributes.set('crmd', i % 2 ? 'online' : 'offline');
        ns.attributes.delete('join');
        return;
      }
      case 3: {
        // Reorder: children moved within their parent (drafts placed elsewhere).
        const status = firstChild(doc.root, 'status')!;
        status.children = [...status.children].reverse();
        return;
      }
      case 4: {
        const ns = nodeStateElement(doc, node);
        ns.children.push(
          { type: 'text', value: '\n  ' },
          { type: 'comment', value: ` edit ${i} ` },
        );
        ns.selfClosing = false;
        return;
      }
      case 5:
        cleanupResource(doc, 'd1', rand() < 0.5 ? node : undefined);
        return;
      default: {
        // Take a whole lrm out of one node_state and put a changed copy into another.
        const from = nodeStateElement(doc, 'node1');
        const lrm = firstChild(from, 'lrm');
        if (!lrm) return;
        from.children = from.children.filter((c) => c !== lrm);
        lrm.attributes.set('moved', String(i));
        const to = nodeStateElement(doc, node);
        to.children.push(lrm);
        to.selfClosing = false;
      }
    }
  };
}

/** The full-rewrite reference: copy everything, edit, bump num_updates, serialize everything. */
function reference(doc: XmlDocument, edit: (doc: XmlDocument) => void): XmlDocument {
  const copy = cloneDocument(doc);
  edit(copy);
  const n = Number(copy.root.attributes.get('num_updates'));
  copy.root.attributes.set('num_updates', String(n + 1));
  return copy;
}

describe('status writes: copy-on-write versions and the journal', () => {
  test('patched versions equal full rewrites, in memory, on disk and after reopening', async () => {
    const file = join(dir, 'cib.xml');
    const store = await CibStore.open(file, { initial: CIB, compactAfterBytes: 3000 });
    let ref = parseXml(CIB);
    const rand = prng(42);
    for (let i = 0; i < 300; i++) {
      const edit = randomEdit(rand, i);
      ref = reference(ref, edit);
      await store.modify(edit, { scope: 'status' });
      expect(store.xml).toBe(serializeXml(ref));
      if (i % 25 === 0) expect((await CibStore.read(file)).xml).toBe(store.xml);
    }
    expect(store.cib).toEqual(readCib(ref));
    await store.compact();
    expect(await readFile(file, 'utf8')).toBe(serializeXml(ref));
    const last = (doc: XmlDocument): void => recordCall(doc, 1000);
    ref = reference(ref, last);
    await store.modify(last, { scope: 'status' });
    // That update is only in the journal: reading replays it.
    expect((await readFile(`${file}.journal`, 'utf8')).trim().split('\n')).toHaveLength(2);
    expect((await CibStore.read(file)).xml).toBe(serializeXml(ref));
    await store.close();
    // close() wrote the whole CIB in Pacemaker's format; the journal is empty.
    expect(await readFile(file, 'utf8')).toBe(serializeXml(ref));
    expect(await readFile(`${file}.sig`, 'utf8')).toBe(`${md5(serializeXml(ref))}\n`);
    expect((await readFile(`${file}.journal`, 'utf8')).trim().split('\n')).toHaveLength(1);
    await using again = await CibStore.open(file);
    expect(again.xml).toBe(serializeXml(ref));
  });

  test('a snapshot never changes; a failed edit changes nothing; drafts do not outlive the edit', async () => {
    await using store = await CibStore.open(undefined, { initial: CIB });
    const before = store.snapshot();
    const text = before.xml;
    let kept: XmlDocument | undefined;
    await store.modify(
      (doc) => {
        kept = doc;
        recordCall(doc, 1);
      },
      { scope: 'status' },
    );
    // Reads in between (as a scheduler or a status command would) see one version each.
    const readers = Array.from({ length: 20 }, async (_, i) => {
      const snap = store.snapshot();
      const xml = snap.xml;
      await new Promise((r) => setTimeout(r, i % 3));
      expect(snap.xml).toBe(xml);
      expect(parseXml(xml).root.attributes.get('num_updates')).toBe(
        String(snap.version.numUpdates),
      );
    });
    const writers = Array.from({ length: 20 }, (_, i) =>
      store.modify((doc) => recordCall(doc, 100 + i), { scope: 'status' }),
    );
    await Promise.all([...readers, ...writers]);
    expect(before.xml).toBe(text);
    expect(before.version.numUpdates).toBe(0);
    expect(() => kept!.root).toThrow(/used after its modification ended/);
    const at = store.xml;
    await expect(
      store.modify(
        (doc) => {
          recordCall(doc, 999);
          doc.root.attributes.set('epoch', 'many');
        },
        { scope: 'status' },
      ),
    ).rejects.toThrow(/\/cib\/@epoch: 'many' is not a whole number/);
    expect(store.xml).toBe(at);
    expect(store.version.numUpdates).toBe(21);
    expect(store.history().at(-1)!.xml).toContain('num_updates="20"');
  });

  test('configuration changes write the whole file; a status change replacing the root too', async () => {
    const file = join(dir, 'cib.xml');
    await using store = await CibStore.open(file, { initial: CIB });
    await store.modify((doc) => recordCall(doc, 1), { scope: 'status' });
    await store.modify((doc) => setClusterProperty(doc, 'x', 'y'));
    expect(await readFile(file, 'utf8')).toBe(store.xml);
    await store.modify(
      (doc) => {
        doc.root = parseXml(CIB).root;
      },
      { scope: 'status' },
    );
    expect(await readFile(file, 'utf8')).toBe(store.xml);
    expect(store.version).toEqual({ adminEpoch: 0, epoch: 3, numUpdates: 1 });
  });

  test('a torn last journal line is dropped; damage before it is refused, naming the line', async () => {
    const file = join(dir, 'cib.xml');
    const store = await CibStore.open(file, { initial: CIB });
    expect(await readFile(file, 'utf8')).toBe(CIB);
    for (let i = 0; i < 3; i++)
      await store.modify((doc) => recordCall(doc, i), { scope: 'status' });
    const journal = await readFile(`${file}.journal`, 'utf8');
    // No close() (it would write the CIB whole): as after a crash.
    await (store.backend as FileBackend).close();
    await appendFile(`${file}.journal`, 'c0ffee {"from":"0.3.3","to":"0.');
    const snap = await CibStore.read(file);
    expect(snap.version.numUpdates).toBe(3);
    // The next run replays, writes the CIB whole and appends to a fresh journal.
    {
      await using again = await CibStore.open(file);
      expect(again.version.numUpdates).toBe(3);
      await again.modify((doc) => recordCall(doc, 3), { scope: 'status' });
    }
    expect((await CibStore.read(file)).version.numUpdates).toBe(4);

    // The first journal again, its second record damaged, after the CIB it follows.
    const lines = journal.split('\n');
    lines[2] = lines[2]!.replace('"to":"0.3.2"', '"to":"0.3.9"');
    await writeFile(file, CIB);
    await writeFile(`${file}.sig`, `${md5(CIB)}\n`);
    await writeFile(`${file}.journal`, lines.join('\n'));
    await expect(CibStore.open(file)).rejects.toThrow(CibJournalError);
    await expect(CibStore.open(file)).rejects.toThrow(
      /cib\.xml\.journal:3: damaged record \(its md5 does not match\)/,
    );
  });

  test('a journal that does not follow its CIB is refused with the record and the versions', async () => {
    const file = join(dir, 'cib.xml');
    await writeFile(file, CIB);
    const digest = md5(CIB);
    const record = (r: unknown): string => {
      const line = JSON.stringify(r);
      return `${md5(line)} ${line}\n`;
    };
    await writeFile(
      `${file}.journal`,
      `remora-cib-journal 1 ${digest}\n${record({ from: '0.2.0', to: '0.2.1', patch: { root: {} } })}`,
    );
    await expect(CibStore.read(file)).rejects.toThrow(
      /cib\.xml\.journal record 1: follows version 0\.2\.0, but the CIB is at 0\.3\.0/,
    );
    await writeFile(
      `${file}.journal`,
      `remora-cib-journal 1 ${digest}\n${record({ from: '0.3.0', to: '0.3.1', patch: { root: { c: [0, 9] } } })}`,
    );
    await expect(CibStore.read(file)).rejects.toThrow(CibPatchError);
    await expect(CibStore.read(file)).rejects.toThrow(
      /record 1: \/cib has no child #9 \(it has \d+\): the patch does not belong to this CIB/,
    );
    await writeFile(`${file}.journal`, `remora-cib-journal 1 ${digest}\n${record(null)}`);
    await expect(CibStore.read(file)).rejects.toThrow(
      /record 1: not a journal record \(\{ from, to, patch \}\)/,
    );
    await writeFile(`${file}.journal`, 'something else\n');
    await expect(CibStore.read(file)).rejects.toThrow(
      /cib\.xml\.journal:1: not a remora CIB journal/,
    );
    // A journal written for another CIB file (left by a crash during a full write) is ignored.
    await writeFile(
      `${file}.journal`,
      `remora-cib-journal 1 ${md5('older')}\n${record({ from: '0.2.0', to: '0.2.1', patch: { root: {} } })}`,
    );
    expect((await CibStore.read(file)).xml).toBe(CIB);
  });

  test('kill -9 during status writes and compactions: never torn, nothing acknowledged lost; readers meanwhile always see a whole CIB', async () => {
    const file = join(dir, 'cib.xml');
    await writeFile(file, CIB);
    let acknowledged = 0;
    let reads = 0;
    for (let round = 0; round < 3; round++) {
      const child = spawn(
        process.execPath,
        [
          '-r',
          'ts-node/register/transpile-only',
          join(__dirname, 'crash-writer.ts'),
          file,
          'status',
        ],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
          env: {
            ...process.env,
            TS_NODE_PROJECT: join(__dirname, '../../../examples/tsconfig.json'),
          },
        },
      );
      let last = acknowledged;
      child.stdout.on('data', (b: Buffer) => {
        const lines = b.toString().trim().split('\n');
        last = Number(lines[lines.length - 1]);
      });
      // A reader in this process meanwhile: every read is a whole, readable version.
      let reading = true;
      const reader = (async () => {
        while (reading) {
          const snap = await CibStore.read(file).catch((err: Error) => err);
          if (snap instanceof Error && /ENOENT/.test(snap.message)) continue;
          if (snap instanceof Error) throw snap;
          readCib(parseXml(snap.xml));
          reads++;
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (last >= acknowledged + 40) {
            clearInterval(check);
            setTimeout(resolve, Math.random() * 30);
          }
        }, 5);
      });
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      reading = false;
      await reader;
      await using store = await CibStore.open(file);
      const n = store.version.numUpdates;
      expect(n).toBeGreaterThanOrEqual(last);
      // Every update i < n is there: op r<j> carries the last call i with i % 50 == j.
      const ops = new Map<string, string>();
      for (const ns of childElements(firstChild(parseXml(store.xml).root, 'status')!))
        for (const op of childElements(ns, 'lrm_rsc_op'))
          ops.set(op.attributes.get('id')!, op.attributes.get('call-id')!);
      for (let j = 0; j < Math.min(50, n); j++) {
        const lastCall = j + 50 * Math.floor((n - 1 - j) / 50);
        expect(`r${j}: ${ops.get(`r${j}_last_0`)}`).toBe(`r${j}: ${lastCall}`);
      }
      acknowledged = n;
    }
    expect(acknowledged).toBeGreaterThanOrEqual(120);
    expect(reads).toBeGreaterThan(0);
  }, 90_000);
});
