import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parametersDigest, schedule, transitionGraphXml } from '../src';

/*
 * The transition graph's notification data (CRM_meta_notify_*) and
 * shutdown-lock times, against the graph crm_simulate -G writes for the
 * same CIB.
 */

const KEY = '00000000-0000-0000-0000-000000000000';
const DIGEST = parametersDigest({});

function op(rsc: string, task: string, rc: number, call: number, interval = 0): string {
  const id = interval > 0 ? `${rsc}_${task}_${interval}` : `${rsc}_last_0`;
  return (
    `<lrm_rsc_op id="${id}" operation_key="${rsc}_${task}_${interval}" operation="${task}" crm-debug-origin="test" ` +
    `crm_feature_set="3.16.2" transition-key="${call}:1:${rc}:${KEY}" transition-magic="0:${rc};${call}:1:${rc}:${KEY}" ` +
    `call-id="${call}" rc-code="${rc}" op-status="0" interval="${interval}" last-rc-change="1700000000" ` +
    `exec-time="1" queue-time="0" op-digest="${DIGEST}"/>`
  );
}

function history(rsc: string, type: string, ops: string): string {
  return `<lrm_resource id="${rsc}" class="ocf" provider="pacemaker" type="${type}">${ops}</lrm_resource>`;
}

interface NodeSpec {
  readonly name: string;
  readonly state?: string;
  readonly attrs?: string;
  readonly resources: string;
}

function cib(props: string, resources: string, nodes: readonly NodeSpec[]): string {
  return `<cib admin_epoch="0" epoch="1" num_updates="1" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1" execution-date="1700000100" crm_feature_set="3.16.2">
  <configuration>
    <crm_config><cluster_property_set id="o">${props}</cluster_property_set></crm_config>
    <nodes>${nodes.map((n, i) => `<node id="${i + 1}" uname="${n.name}"/>`).join('')}</nodes>
    <resources>${resources}</resources>
    <constraints/>
  </configuration>
  <status>${nodes
    .map(
      (n, i) =>
        `<node_state id="${i + 1}" uname="${n.name}" ${n.state ?? 'in_ccm="true" crmd="online" join="member" expected="member"'}>` +
        (n.attrs
          ? `<transient_attributes id="${i + 1}"><instance_attributes id="s${i + 1}">${n.attrs}</instance_attributes></transient_attributes>`
          : '') +
        `<lrm id="${i + 1}"><lrm_resources>${n.resources}</lrm_resources></lrm></node_state>`,
    )
    .join('')}</status>
</cib>`;
}

interface GraphEntry {
  readonly attributes: Record<string, string>;
  readonly shutdownLock?: string;
}

/** A graph's actions by (internal) operation key and node. */
function graphActions(xml: string): Map<string, GraphEntry> {
  const out = new Map<string, GraphEntry>();
  const re =
    /<action_set>\s*<(rsc_op|pseudo_event|crm_event) ([^>]*?)\/?>([\s\S]*?)<\/action_set>/g;
  for (const m of xml.matchAll(re)) {
    const head = Object.fromEntries(
      [...(m[2] as string).matchAll(/([\w-]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
    );
    const attrText = /<attributes((?:\s+[^\s=]+="[^"]*")*)\s*\/>/.exec(m[3] as string)?.[1] ?? '';
    const attributes = Object.fromEntries(
      [...attrText.matchAll(/([^\s=]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
    );
    const key = `${head.internal_operation_key ?? head.operation_key} ${head.on_node ?? ''}`;
    out.set(key, { attributes, shutdownLock: head['shutdown-lock'] });
  }
  return out;
}

let dir: string | undefined;
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function referenceGraph(xml: string): string {
  dir ??= mkdtempSync(join(tmpdir(), 'remora-graph-'));
  const input = join(dir, 'cib.xml');
  const graph = join(dir, 'graph.xml');
  writeFileSync(input, xml);
  execFileSync('crm_simulate', ['-x', input, '-G', graph], { encoding: 'utf8', timeout: 60_000 });
  return readFileSync(graph, 'utf8');
}

/** The notification attributes of every action crm_simulate's graph has, ours and theirs. */
function notifyAttributes(xml: string): {
  ours: Record<string, Record<string, string>>;
  theirs: Record<string, Record<string, string>>;
} {
  const theirs = graphActions(referenceGraph(xml));
  const ours = graphActions(transitionGraphXml(schedule(xml)));
  const pick = (e: GraphEntry | undefined): Record<string, string> =>
    Object.fromEntries(
      Object.entries(e?.attributes ?? {}).filter(([k]) => k.startsWith('CRM_meta_notify')),
    );
  const a: Record<string, Record<string, string>> = {};
  const b: Record<string, Record<string, string>> = {};
  for (const [key, entry] of theirs) {
    b[key] = pick(entry);
    a[key] = pick(ours.get(key));
  }
  return { ours: a, theirs: b };
}

const stateful = (id: string, meta: string): string =>
  `<clone id="${id}-clone"><meta_attributes id="${id}-cm">${meta}</meta_attributes>` +
  `<primitive id="${id}" class="ocf" provider="pacemaker" type="Stateful">` +
  `<operations><op id="${id}-m1" name="monitor" interval="10s" role="Promoted"/><op id="${id}-m2" name="monitor" interval="11s" role="Unpromoted"/></operations>` +
  `</primitive></clone>`;

describe('transition graph notifications (CRM_meta_notify_*), as crm_simulate -G writes them', () => {
  it('promotable clone with notify=true: an instance starts and one is promoted', () => {
    const meta =
      '<nvpair id="m1" name="promotable" value="true"/><nvpair id="m2" name="notify" value="true"/>';
    const running = (rsc: string): string =>
      history(rsc, 'Stateful', op(rsc, 'start', 0, 5) + op(rsc, 'monitor', 0, 6, 11000));
    const xml = cib(
      '<nvpair id="o1" name="stonith-enabled" value="false"/>',
      stateful('db', meta),
      [
        {
          name: 'n1',
          attrs: '<nvpair id="ms1" name="master-db" value="10"/>',
          resources: running('db'),
        },
        { name: 'n2', resources: running('db') },
        { name: 'n3', resources: '' },
      ],
    );
    const { ours, theirs } = notifyAttributes(xml);
    expect(Object.keys(theirs).some((k) => k.includes('_notify_'))).toBe(true);
    expect(Object.values(theirs).some((v) => v.CRM_meta_notify_promote_resource?.trim())).toBe(
      true,
    );
    expect(ours).toEqual(theirs);
  });

  it('a cloned instance stopped by fencing: the others are told after the fencing', () => {
    const meta = '<nvpair id="m2" name="notify" value="true"/>';
    const dummy =
      `<primitive id="fencing" class="stonith" type="fence_dummy"/>` +
      `<clone id="c"><meta_attributes id="c-m">${meta}</meta_attributes><primitive id="d" class="ocf" provider="pacemaker" type="Dummy"/></clone>`;
    const started = history('d', 'Dummy', op('d', 'start', 0, 2));
    const fence = `<lrm_resource id="fencing" class="stonith" type="fence_dummy">${op('fencing', 'start', 0, 3)}</lrm_resource>`;
    const xml = cib('<nvpair id="o1" name="stonith-enabled" value="true"/>', dummy, [
      { name: 'n1', resources: started + fence },
      { name: 'n2', resources: started },
      {
        name: 'n3',
        state: 'in_ccm="false" crmd="offline" join="down" expected="member"',
        resources: started,
      },
    ]);
    const { ours, theirs } = notifyAttributes(xml);
    expect(Object.keys(theirs).some((k) => k.includes('_notify_stonith_'))).toBe(true);
    expect(ours).toEqual(theirs);
  });
});

describe('transition graph shutdown locks', () => {
  it('the stop of a resource locked to a node shutting down carries the lock time', () => {
    const xml = cib(
      '<nvpair id="o1" name="stonith-enabled" value="false"/><nvpair id="o2" name="shutdown-lock" value="true"/>',
      '<primitive id="r1" class="ocf" provider="pacemaker" type="Dummy"/>',
      [
        {
          name: 'n1',
          attrs: '<nvpair id="sd" name="shutdown" value="1700000050"/>',
          resources: history('r1', 'Dummy', op('r1', 'start', 0, 2)),
        },
        { name: 'n2', resources: '' },
      ],
    );
    const theirs = graphActions(referenceGraph(xml));
    const ours = graphActions(transitionGraphXml(schedule(xml)));
    const locked = [...theirs].filter(([, e]) => e.shutdownLock !== undefined);
    expect(locked.map(([k, e]) => [k, e.shutdownLock])).toEqual([['r1_stop_0 n1', '1700000050']]);
    for (const [k, e] of theirs)
      expect([k, ours.get(k)?.shutdownLock]).toEqual([k, e.shutdownLock]);
    const stop = schedule(xml).actions.find((a) => a.key === 'r1_stop_0');
    expect(stop?.shutdownLock).toBe(1700000050);
  });
});
