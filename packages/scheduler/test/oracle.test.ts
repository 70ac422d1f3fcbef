import { formatSimulation, schedule } from '../src';
import { crmSimulate, sections } from './simulate-output';

const op = (rsc: string, task: string, rc: number, call: number, interval = 0): string =>
  `<lrm_rsc_op id="${rsc}_${task}_${interval}" operation_key="${rsc}_${task}_${interval}" operation="${task}" ` +
  `crm-debug-origin="test" crm_feature_set="3.16.2" transition-key="1:1:${task === 'monitor' && interval === 0 ? 7 : 0}:00000000-0000-0000-0000-000000000000" ` +
  `transition-magic="0:${rc};1:1:${task === 'monitor' && interval === 0 ? 7 : 0}:00000000-0000-0000-0000-000000000000" ` +
  `call-id="${call}" rc-code="${rc}" op-status="0" interval="${interval}" last-rc-change="1700000000" exec-time="1" queue-time="0"/>`;

function cib(opts: {
  props?: string;
  nodeAttrs?: Record<string, string>;
  resources: string;
  constraints?: string;
  tags?: string;
  tickets?: string;
  status?: Record<string, string>;
}): string {
  const nodes = ['n1', 'n2', 'n3'];
  return `<cib admin_epoch="0" epoch="1" num_updates="1" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1" execution-date="1700000100">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="false"/>${opts.props ?? ''}</cluster_property_set></crm_config>
    <nodes>${nodes
      .map(
        (n, i) =>
          `<node id="${i + 1}" uname="${n}">${
            opts.nodeAttrs?.[n]
              ? `<instance_attributes id="${n}-a">${opts.nodeAttrs[n]}</instance_attributes>`
              : ''
          }</node>`,
      )
      .join('')}</nodes>
    <resources>${opts.resources}</resources>
    <constraints>${opts.constraints ?? ''}</constraints>${opts.tags ? `<tags>${opts.tags}</tags>` : ''}
  </configuration>
  <status>${opts.tickets ? `<tickets>${opts.tickets}</tickets>` : ''}${nodes
    .map(
      (n, i) =>
        `<node_state id="${i + 1}" uname="${n}" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="${i + 1}"><lrm_resources>${opts.status?.[n] ?? ''}</lrm_resources></lrm></node_state>`,
    )
    .join('')}</status>
</cib>`;
}

const dummy = (id: string, extra = ''): string =>
  `<primitive id="${id}" class="ocf" provider="heartbeat" type="Dummy">${extra}<operations><op id="${id}-mon" name="monitor" interval="10s"/></operations></primitive>`;
const history = (rsc: string, ops: string): string =>
  `<lrm_resource id="${rsc}" class="ocf" provider="heartbeat" type="Dummy">${ops}</lrm_resource>`;

const scenarios: Record<string, string> = {
  'fresh cluster: probes, starts spread over nodes': cib({
    resources: dummy('a') + dummy('b') + dummy('c') + dummy('d'),
  }),
  'group with location preference and an ordering': cib({
    resources: `<group id="g">${dummy('g1')}${dummy('g2')}</group>${dummy('x')}`,
    constraints:
      '<rsc_location id="l1" rsc="g" node="n2" score="100"/><rsc_order id="ord1" first="x" then="g" score="INFINITY"/>',
  }),
  'failed monitor is recovered in place': cib({
    resources: dummy('a'),
    status: {
      n1: history('a', op('a', 'start', 0, 2) + op('a', 'monitor', 7, 3, 10000)),
      n2: history('a', op('a', 'monitor', 7, 1)),
      n3: history('a', op('a', 'monitor', 7, 1)),
    },
  }),
  'standby node: its resource moves': cib({
    nodeAttrs: { n1: '<nvpair id="n1-sb" name="standby" value="on"/>' },
    resources: dummy('a'),
    status: {
      n1: history('a', op('a', 'start', 0, 2) + op('a', 'monitor', 0, 3, 10000)),
      n2: history('a', op('a', 'monitor', 7, 1)),
      n3: history('a', op('a', 'monitor', 7, 1)),
    },
  }),
  'anti-colocation and target-role Stopped': cib({
    resources:
      dummy('a') +
      dummy('b') +
      dummy(
        'c',
        '<meta_attributes id="c-m"><nvpair id="c-tr" name="target-role" value="Stopped"/></meta_attributes>',
      ),
    constraints: '<rsc_colocation id="c1" rsc="b" with-rsc="a" score="-INFINITY"/>',
    status: {
      n1: history('c', op('c', 'start', 0, 2)),
    },
  }),
  'tickets: revoked (stop, freeze), granted, standby and never granted': cib({
    resources: dummy('a') + dummy('b') + dummy('c') + dummy('d') + dummy('e'),
    constraints:
      '<rsc_ticket id="t-a" rsc="a" ticket="T1" loss-policy="stop"/>' +
      '<rsc_ticket id="t-b" rsc="b" ticket="T2"/>' +
      '<rsc_ticket id="t-c" rsc="c" rsc-role="Started" ticket="T1" loss-policy="freeze"/>' +
      '<rsc_ticket id="t-d" ticket="T3"><resource_set id="t-d-s"><resource_ref id="d"/></resource_set></rsc_ticket>' +
      '<rsc_ticket id="t-e" rsc="e" ticket="T4" loss-policy="demote"/>',
    tickets:
      '<ticket_state id="T1" granted="false"/><ticket_state id="T2" granted="true"/>' +
      '<ticket_state id="T3" granted="true" standby="true"/>',
    status: {
      n1: history('a', op('a', 'start', 0, 2)) + history('c', op('c', 'start', 0, 3)),
      n2: history('d', op('d', 'start', 0, 3)),
    },
  }),
  'probes that failed (generic error, not configured) show the resource FAILED there': cib({
    resources: dummy('a') + dummy('b') + dummy('c'),
    status: {
      n1: history('a', op('a', 'monitor', 1, 1)) + history('c', op('c', 'monitor', 7, 3)),
      n2: history('b', op('b', 'monitor', 6, 2)),
    },
  }),
  'tags and templates in locations, colocations, orderings and sets': cib({
    resources:
      '<template id="tpl" class="ocf" provider="heartbeat" type="Dummy"><operations>' +
      '<op id="tpl-mon" name="monitor" interval="20s"/><op id="tpl-stop" name="stop" interval="0" timeout="30s"/>' +
      '</operations></template>' +
      '<primitive id="p1" template="tpl"/><primitive id="p2" template="tpl"><operations>' +
      '<op id="p2-mon" name="monitor" interval="15s"/></operations></primitive>' +
      dummy('a') +
      dummy('b') +
      dummy('c'),
    tags: '<tag id="tg"><obj_ref id="a"/><obj_ref id="b"/></tag>',
    constraints:
      '<rsc_location id="l-tg" rsc="tg" node="n3" score="200"/>' +
      '<rsc_location id="l-tpl" rsc="tpl" node="n2" score="100"/>' +
      '<rsc_colocation id="c-c" rsc="c" with-rsc="tpl" score="INFINITY"/>' +
      '<rsc_order id="o-1" first="tpl" then="tg"/>' +
      '<rsc_location id="l-set" node="n1" score="-INFINITY"><resource_set id="l-set-s">' +
      '<resource_ref id="tg"/></resource_set></rsc_location>',
  }),
};

describe('schedule agrees with crm_simulate', () => {
  for (const [name, xml] of Object.entries(scenarios)) {
    it(name, () => {
      const expected = sections(crmSimulate(xml));
      const ours = sections(formatSimulation(schedule(xml), { simulate: true }));
      expect(expected.summary.length + expected.actions.length).toBeGreaterThan(0);
      expect(ours).toEqual(expected);
    });
  }
});

describe('schedule as data', () => {
  it('gives the graph with inputs in a valid order and the scores', () => {
    const result = schedule(scenarios['group with location preference and an ordering'] as string);
    const seen = new Set<number>();
    for (const a of result.actions) {
      for (const i of a.inputs) expect(seen.has(i)).toBe(true);
      seen.add(a.id);
    }
    const start = result.actions.find((a) => a.task === 'start' && a.resource === 'g1');
    expect(start?.node).toBe('n2');
    expect(result.scores.g1?.n2).toBeGreaterThanOrEqual(100);
    expect(result.summary.map((s) => s.change)).toEqual(['Start', 'Start', 'Start']);
  });

  it('rejects a CIB that is not XML with a clear error', () => {
    expect(() => schedule('<cib><configuration>')).toThrow(/^input:1:1: /);
  });
});
