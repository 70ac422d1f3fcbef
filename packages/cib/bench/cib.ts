/**
 * bench:cib — parse, serialize, read and verify a large deployment CIB
 * (`../shared/bin/gen-deployment-cib C G S`), and modify it through the
 * store, against Pacemaker's tools on the same file in the same run:
 * `cibadmin -Q` with CIB_file (parse + schema validation + serialize) and
 * `cibadmin --modify` with CIB_file (read, change one attribute, write).
 *
 * Also `crm_verify -x` on the same file (time and peak memory, measured with
 * /usr/bin/time) next to remora's verify, and remora's peak RSS.
 *
 *   npm run bench:cib [-- --size C,G,S] [--no-crm-verify]   (default 16,1000,1000)
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { CibStore, parseXml, readCib, serializeXml, setClusterProperty, verifyCib } from '../src';

const execFileP = promisify(execFile);

async function best<T>(runs: number, fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  let ms = Infinity;
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    value = await fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms, value };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--size');
  const [c, g, s] = (i >= 0 ? process.argv[i + 1]! : '16,1000,1000').split(',');
  const gen = resolve(__dirname, '../../../../shared/bin/gen-deployment-cib');
  const dir = await mkdtemp(join(tmpdir(), 'remora-bench-cib-'));
  try {
    const file = join(dir, 'cib.xml');
    const { stdout } = await execFileP(gen, [c!, g!, s!], { maxBuffer: 1 << 30 });
    await writeFile(file, stdout);
    const text = await readFile(file, 'utf8');
    console.log(
      `CIB: ${c} cluster nodes, ${g} guests, ${s} services — ${(text.length / 1048576).toFixed(1)} MiB`,
    );

    const parse = await best(3, () => parseXml(text));
    const serialize = await best(3, () => serializeXml(parse.value));
    const model = await best(3, () => readCib(parse.value));
    const verify = await best(1, () => verifyCib(parse.value));
    console.log(`  remora parseXml            ${parse.ms.toFixed(0).padStart(6)} ms`);
    console.log(
      `  remora serializeXml        ${serialize.ms.toFixed(0).padStart(6)} ms (identical: ${serialize.value === text})`,
    );
    console.log(
      `  remora readCib (model)     ${model.ms.toFixed(0).padStart(6)} ms (${model.value.resources.length} resources, ${model.value.guestNodes.length} guest nodes)`,
    );
    console.log(
      `  remora verifyCib           ${verify.ms.toFixed(0).padStart(6)} ms (valid: ${verify.value.valid})`,
    );
    if (!process.argv.includes('--no-crm-verify')) {
      // crm_verify runs Pacemaker's whole scheduler, which does not scale to
      // thousands of guests: give it a time limit and say so.
      const limit = Number(process.env.CRM_VERIFY_LIMIT_S ?? 120);
      const t = performance.now();
      const { stderr } = await execFileP(
        '/usr/bin/time',
        ['-f', 'peak-kb=%M', 'timeout', String(limit), 'crm_verify', '-x', file],
        { maxBuffer: 1 << 30 },
      ).catch((err: { stderr: string }) => ({ stderr: err.stderr }));
      const ms = performance.now() - t;
      const kb = Number(/peak-kb=(\d+)/.exec(stderr)?.[1] ?? 'NaN');
      const finished = ms < limit * 1000 - 500;
      console.log(
        `  crm_verify -x (reference)  ${ms.toFixed(0).padStart(6)} ms, peak ${(kb / 1024).toFixed(0)} MiB${finished ? '' : ` (did not finish within ${limit} s, CRM_VERIFY_LIMIT_S; killed)`}`,
      );
      console.log(
        `  ratio crm_verify / remora parse+verifyCib: ${finished ? '' : '> '}${(ms / (verify.ms + parse.ms)).toFixed(0)}x`,
      );
    }
    const query = await best(2, () =>
      execFileP('cibadmin', ['-Q'], {
        env: { ...process.env, CIB_file: file },
        maxBuffer: 1 << 30,
      }),
    );
    const ours = parse.ms + serialize.ms;
    console.log(
      `  cibadmin -Q (reference)    ${query.ms.toFixed(0).padStart(6)} ms (parse + validate + serialize)`,
    );
    console.log(`  ratio reference / remora parse+serialize: ${(query.ms / ours).toFixed(1)}x`);

    // One change to the large CIB, persisted.
    const storeFile = join(dir, 'store.xml');
    await copyFile(file, storeFile);
    await using store = await CibStore.open(storeFile);
    let n = 0;
    const modify = await best(3, () =>
      store.modify((doc) => setClusterProperty(doc, 'bench', String(n++))),
    );
    const refFile = join(dir, 'ref.xml');
    await copyFile(file, refFile);
    const refModify = await best(1, () =>
      execFileP(
        'cibadmin',
        [
          '--modify',
          '--xml-text',
          `<cluster_property_set id="opts"><nvpair id="opts-bench" name="bench" value="${n++}"/></cluster_property_set>`,
        ],
        {
          env: { ...process.env, CIB_file: refFile },
          maxBuffer: 1 << 30,
        },
      ),
    );
    console.log(
      `  remora store.modify        ${modify.ms.toFixed(0).padStart(6)} ms (copy, edit, re-read, atomic write + fsync)`,
    );
    console.log(`  cibadmin --modify (ref)    ${refModify.ms.toFixed(0).padStart(6)} ms`);
    console.log(`  ratio reference / remora modify: ${(refModify.ms / modify.ms).toFixed(1)}x`);
    console.log(
      `  remora peak RSS (whole benchmark process): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
