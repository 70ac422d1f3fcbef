import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatSimulation, schedule } from '../src';

/*
 * Node actions (fencing, shutdown) and the Transition Summary's layout,
 * against crm_simulate on the same CIB: without concurrent-fencing the
 * fencings of non-DC nodes run one after the other; the DC's fencing or
 * shutdown waits for the last of them, and the DC's shutdown for every other
 * shutdown. The summary lists fencing newest first and lays resource lines
 * out in crm_simulate's columns.
 */

let dir: string | undefined;
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** crm_simulate -S output and the graph it writes with -G. */
function reference(xml: string): { text: string; graph: string } {
  dir ??= mkdtempSync(join(tmpdir(), 'remora-node-actions-'));
  const input = join(dir, 'cib.xml');
  const graph = join(dir, 'graph.xml');
  writeFileSync(input, xml);
  const text = execFileSync('crm_simulate', ['-x', input, '-S', '-G', graph], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { text, graph: readFileSync(graph, 'utf8') };
}

/** Each fencing and shutdown in crm_simulate's graph with the keys of the actions it waits for. */
function referenceNodeInputs(graph: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of graph.matchAll(/<synapse[^>]*>([\s\S]*?)<\/synapse>/g)) {
    const body = s[1] as string;
    const keys = [...body.matchAll(/operation_key="([^"]+)"/g)].map((m) => m[1] as string);
    const [key, ...inputs] = keys;
    if (key && /^(stonith|do_shutdown)-/.test(key)) out[key] = inputs.sort();
  }
  return out;
}

function ourNodeInputs(xml: string): Record<string, string[]> {
  const { actions } = schedule(xml);
  const byId = new Map(actions.map((a) => [a.id, a]));
  const out: Record<string, string[]> = {};
  for (const a of actions)
    if (a.task === 'stonith' || a.task === 'do_shutdown')
      out[a.key] = a.inputs.map((i) => byId.get(i)?.key ?? `#${i}`).sort();
  return out;
}

const summaryText = (text: string): string =>
  /^Transition Summary:\n([\s\S]*?)\n(?:\n|Executing)/m.exec(text)?.[1] ?? '';

/** n1 (the DC) and n4 shut down, n2 and n3 left the cluster uncleanly, n5 runs on. */
function cib(props: string, resources: string): string {
  const state = (id: number, up: boolean, shutdown: boolean): string =>
    `<node_state id="${id}" uname="n${id}" ${
      up ? 'in_ccm="true" crmd="online" join="member"' : 'in_ccm="false" crmd="offline" join="down"'
    } expected="member">${
      shutdown
        ? `<transient_attributes id="${id}-t"><instance_attributes id="${id}-ta"><nvpair id="${id}-s" name="shutdown" value="1700000000"/></instance_attributes></transient_attributes>`
        : ''
    }</node_state>`;
  return `<cib admin_epoch="0" epoch="1" num_updates="1" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1" execution-date="1700000100">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="true"/>${props}</cluster_property_set></crm_config>
    <nodes>${[1, 2, 3, 4, 5].map((i) => `<node id="${i}" uname="n${i}"/>`).join('')}</nodes>
    <resources><primitive id="fencing" class="stonith" type="fence_xvm"/>${resources}</resources>
    <constraints/>
  </configuration>
  <status>${state(1, true, true)}${state(2, false, false)}${state(3, false, false)}${state(4, true, true)}${state(5, true, false)}</status>
</cib>`;
}

const dummy = (id: string): string =>
  `<primitive id="${id}" class="ocf" provider="pacemaker" type="Dummy"/>`;

describe('fencing and shutdown orderings, as crm_simulate -G writes them', () => {
  it('without concurrent fencing: non-DC fencings in a chain, the DC shutdown after the last and after other shutdowns', () => {
    const xml = cib('', dummy('d'));
    const theirs = referenceNodeInputs(reference(xml).graph);
    expect(theirs['stonith-n3-reboot']).toEqual(['stonith-n2-reboot']);
    expect(ourNodeInputs(xml)).toEqual(theirs);
  });

  it('with concurrent-fencing=true: fencings side by side, the DC shutdown after each', () => {
    const xml = cib('<nvpair id="o2" name="concurrent-fencing" value="true"/>', dummy('d'));
    const theirs = referenceNodeInputs(reference(xml).graph);
    expect(theirs['stonith-n3-reboot']).toEqual([]);
    expect(ourNodeInputs(xml)).toEqual(theirs);
  });
});

describe('Transition Summary text, byte for byte as crm_simulate prints it', () => {
  it.each([
    ['short names', dummy('d')],
    ['names of several lengths', dummy('a') + dummy('rsc-with-a-long-name') + dummy('mid-length')],
  ])('%s: fencing newest first, resource lines in columns', (_name, resources) => {
    const xml = cib('', resources);
    const theirs = summaryText(reference(xml).text);
    expect(theirs).toMatch(/Fence \(reboot\) n3[^\n]*\n[^\n]*Fence \(reboot\) n2/);
    expect(summaryText(formatSimulation(schedule(xml), { simulate: true }))).toBe(theirs);
  });
});
