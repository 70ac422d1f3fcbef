/**
 * bench:cib-status — the cost of one status write (an operation result
 * recorded as an `lrm_rsc_op`, as the controller does for every result)
 * on a converged seed-deployment CIB (default 16 cluster nodes, 64 guests,
 * 64 services: every resource probed on every node it may run on, then
 * started and monitored), through the store, against the full-rewrite
 * approach measured in the same run (copy the whole document, edit, re-read
 * it all, serialize it all, write the file atomically with its md5 .sig —
 * what CibStore.modify did before its copy-on-write versions).
 *
 *   npm run bench:cib-status [-- --size C,G,S] [--writes N]
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { XmlDocument } from '../src';
import {
  CibStore,
  FileBackend,
  childElements,
  cloneDocument,
  firstChild,
  nodeStateElement,
  parseXml,
  readCib,
  serializeXml,
} from '../src';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};

function op(
  rsc: string,
  node: string,
  operation: string,
  interval: number,
  rc: number,
  call: number,
): string {
  const key = `${rsc}_${operation}_${interval}`;
  const id = interval > 0 ? key : `${rsc}_last_0`;
  const tk = `${call}:1:${rc}:6f1c1b44-7c3a-4f7e-9d0e-1b2c3d4e5f60`;
  return `<lrm_rsc_op id="${id}" operation_key="${key}" operation="${operation}" crm-debug-origin="do_update_resource" crm_feature_set="3.16.1" transition-key="${tk}" transition-magic="0:${rc};${tk}" exit-reason="" on_node="${node}" call-id="${call}" rc-code="${rc}" op-status="0" interval="${interval}" last-rc-change="1764530000" exec-time="12" queue-time="0" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>`;
}

/** A converged deployment's CIB: configuration, and the status history of every probe, start and monitor. */
export function deploymentCib(c: number, g: number, s: number): string {
  const nodes = Array.from({ length: c }, (_, i) => `node${i + 1}`);
  const guests = Array.from({ length: g }, (_, i) => `guest${i + 1}`);
  const services = Array.from({ length: s }, (_, i) => `svc${i + 1}`);
  const nv = (id: string, name: string, value: string): string =>
    `<nvpair id="${id}-${name}" name="${name}" value="${value}"/>`;
  const resources = guests.map(
    (gu, i) =>
      `<primitive class="ocf" id="vm${i + 1}" provider="remora" type="guest-daemon"><meta_attributes id="vm${i + 1}-meta">${nv(`vm${i + 1}`, 'remote-node', gu)}</meta_attributes><operations><op id="vm${i + 1}-mon" name="monitor" interval="8s"/></operations></primitive>`,
  );
  for (const sv of services)
    resources.push(
      `<primitive class="ocf" id="${sv}" provider="heartbeat" type="Dummy"><operations><op id="${sv}-mon" name="monitor" interval="8s"/></operations></primitive>`,
    );
  let call = 1;
  const history = (node: string, rscs: string[], type: string, runs: (r: string) => boolean) =>
    `<lrm id="${node}"><lrm_resources>${rscs
      .map(
        (r) =>
          `<lrm_resource id="${r}" class="ocf" provider="${type === 'Dummy' ? 'heartbeat' : 'remora'}" type="${type}">${
            runs(r)
              ? op(r, node, 'start', 0, 0, call++) + op(r, node, 'monitor', 8000, 0, call++)
              : op(r, node, 'monitor', 0, 7, call++)
          }</lrm_resource>`,
      )
      .join('')}</lrm_resources></lrm>`;
  const vms = guests.map((_, i) => `vm${i + 1}`);
  const states = nodes.map(
    (n, i) =>
      `<node_state id="${i + 1}" uname="${n}" in_ccm="true" crmd="online" join="member" expected="member">${history(n, vms, 'guest-daemon', (r) => Number(r.slice(2)) % c === i)}</node_state>`,
  );
  guests.forEach((gu, i) =>
    states.push(
      `<node_state id="${gu}" uname="${gu}" remote_node="true" in_ccm="true" crmd="online">${history(gu, services, 'Dummy', (r) => Number(r.slice(3)) % g === i)}</node_state>`,
    ),
  );
  return `<cib epoch="5" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1"><configuration><crm_config/><nodes>${nodes.map((n, i) => `<node id="${i + 1}" uname="${n}"/>`).join('')}</nodes><resources>${resources.join('')}</resources><constraints/></configuration><status>${states.join('')}</status></cib>\n`;
}

/** One monitor result written where the controller writes it. */
function recordResult(doc: XmlDocument, node: string, rsc: string, call: number): void {
  const ns = nodeStateElement(doc, node);
  const list = firstChild(firstChild(ns, 'lrm')!, 'lrm_resources')!;
  const el = childElements(list, 'lrm_resource').find((r) => r.attributes.get('id') === rsc)!;
  const fresh = parseXml(op(rsc, node, 'monitor', 0, 7, call)).root;
  const i = el.children.findIndex(
    (c) => c.type === 'element' && c.attributes.get('id') === fresh.attributes.get('id'),
  );
  if (i >= 0) el.children[i] = fresh;
  else el.children.push(fresh);
  el.selfClosing = false;
}

async function main(): Promise<void> {
  const [c, g, s] = arg('--size', '16,64,64').split(',').map(Number) as [number, number, number];
  const writes = Number(arg('--writes', '100'));
  const text = deploymentCib(c, g, s);
  const ops = (text.match(/<lrm_rsc_op /g) ?? []).length;
  console.log(
    `status writes on a converged ${c}/${g}/${s} CIB: ${(text.length / 1048576).toFixed(1)} MiB, ${ops} lrm_rsc_op; ${writes} writes each`,
  );
  const targets = Array.from({ length: writes }, (_, i) => {
    const node = i % 2 === 0 ? `node${(i % c) + 1}` : `guest${(i % g) + 1}`;
    const rsc = node.startsWith('node') ? `vm${(i % g) + 1}` : `svc${(i % s) + 1}`;
    return { node, rsc, call: 100000 + i };
  });
  const dir = await mkdtemp(join(tmpdir(), 'remora-bench-status-'));
  const rows: { name: string; ms: number }[] = [];
  const time = async (name: string, fn: () => Promise<void>): Promise<number> => {
    const t = performance.now();
    await fn();
    const ms = (performance.now() - t) / writes;
    rows.push({ name, ms });
    return ms;
  };
  try {
    // The reference: every write copies, re-reads, re-serializes and rewrites the whole CIB.
    const recordAndCount = (d: XmlDocument, t: (typeof targets)[number], call: number): void => {
      recordResult(d, t.node, t.rsc, call);
      const ns = d.root.attributes.get('num_updates')!;
      d.root.attributes.set('num_updates', String(Number(ns) + 1));
    };
    const rewritten = (t: (typeof targets)[number]): XmlDocument => {
      const draft = cloneDocument(doc);
      recordAndCount(draft, t, t.call);
      readCib(draft);
      return draft;
    };
    const warmed = (d: XmlDocument): XmlDocument => {
      for (const t of targets.slice(0, 5)) {
        recordAndCount(d, t, t.call - 1);
      }
      return d;
    };
    let doc = warmed(parseXml(text));
    const refMemory = await time('full rewrite, in memory (reference)', () => {
      for (const t of targets) {
        const draft = rewritten(t);
        serializeXml(draft);
        doc = draft;
      }
      return Promise.resolve();
    });
    doc = warmed(parseXml(text));
    const refFile = new FileBackend(join(dir, 'ref.xml'));
    let saved = serializeXml(doc);
    await refFile.save(saved, '');
    const refDisk = await time('full rewrite, file + .sig (reference)', async () => {
      for (const t of targets) {
        const draft = rewritten(t);
        const xml = serializeXml(draft);
        await refFile.save(xml, saved);
        saved = xml;
        doc = draft;
      }
    });
    const refText = serializeXml(doc);

    // Each store warmed up with a few writes first (as a running controller's is).
    const warm = async (store: CibStore): Promise<void> => {
      for (const t of targets.slice(0, 5))
        await store.modify((d) => recordResult(d, t.node, t.rsc, t.call - 1), { scope: 'status' });
    };
    const memory = await CibStore.open(undefined, { initial: text });
    await warm(memory);
    const ours = await time('CibStore.modify, memory backend', async () => {
      for (const t of targets)
        await memory.modify((d) => recordResult(d, t.node, t.rsc, t.call), { scope: 'status' });
    });
    const file = join(dir, 'cib.xml');
    const disk = await CibStore.open(file, { initial: text });
    await warm(disk);
    const oursDisk = await time(
      'CibStore.modify, file backend (journal append + fdatasync)',
      async () => {
        for (const t of targets)
          await disk.modify((d) => recordResult(d, t.node, t.rsc, t.call), { scope: 'status' });
      },
    );
    // A full write of the file (compaction) happens once the journal holds as much as the CIB.
    const recordBytes = (await stat(`${file}.journal`)).size / (writes + 5);
    const c0 = performance.now();
    await disk.compact();
    const compactMs = performance.now() - c0;
    const every = text.length / recordBytes;
    // What a scheduler run reads after a write: the whole text (only changed elements serialized).
    let xmlMs = 0;
    for (const t of targets.slice(0, 20)) {
      await memory.modify((d) => recordResult(d, t.node, t.rsc, t.call + 1), { scope: 'status' });
      const t0 = performance.now();
      void memory.xml.length;
      xmlMs += performance.now() - t0;
    }
    const fullSerialize = performance.now();
    serializeXml(doc);
    const fullMs = performance.now() - fullSerialize;
    for (const t of targets.slice(0, 20)) {
      recordResult(doc, t.node, t.rsc, t.call + 1);
      const ns = doc.root.attributes.get('num_updates')!;
      doc.root.attributes.set('num_updates', String(Number(ns) + 1));
    }
    // (the memory store had 20 more writes, applied to the reference document too)
    const same = memory.xml === serializeXml(doc) && disk.xml === refText;
    await disk.close();
    const reopened = await CibStore.open(file);
    const persisted = reopened.xml === refText;
    await reopened.close();
    for (const r of rows) console.log(`  ${r.name.padEnd(72)} ${r.ms.toFixed(3).padStart(9)} ms`);
    console.log(
      `  ${'CibStore.xml after a write (text for the scheduler)'.padEnd(72)} ${(xmlMs / 20).toFixed(3).padStart(9)} ms (full serializeXml ${fullMs.toFixed(1)} ms)`,
    );
    console.log(
      `  ${'compaction (whole file + .sig, journal reset)'.padEnd(72)} ${compactMs.toFixed(1).padStart(9)} ms, every ~${Math.round(every)} writes (${Math.round(recordBytes)} B per record): ${(compactMs / every).toFixed(3)} ms per write amortized`,
    );
    console.log(`  ratio full rewrite / store, in memory: ${(refMemory / ours).toFixed(0)}x`);
    console.log(
      `  ratio full rewrite / store, on disk:   ${(refDisk / (oursDisk + compactMs / every)).toFixed(0)}x (compactions included)`,
    );
    console.log(`  (load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs)`);
    console.log(`  same CIB as the full rewrites: ${same}; reopened file identical: ${persisted}`);
    if (!same || !persisted) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (require.main === module)
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
