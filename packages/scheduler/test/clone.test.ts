import { formatSimulation, parametersDigest, schedule } from '../src';
import { crmSimulate, sections } from './simulate-output';

/**
 * Clone behaviour, each scenario checked against crm_simulate (the oracle)
 * and against the lines that show the behaviour it is about.
 */

interface CibOptions {
  readonly resources: string;
  readonly constraints?: string;
  readonly rscDefaults?: string;
  /** lrm_resources per node. */
  readonly status?: Record<string, string>;
}

const NODES = ['n1', 'n2', 'n3'];

function cib(opts: CibOptions): string {
  return `<cib admin_epoch="0" epoch="1" num_updates="1" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1" execution-date="1700000100">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes>${NODES.map((n, i) => `<node id="${i + 1}" uname="${n}"/>`).join('')}</nodes>
    <resources>${opts.resources}</resources>
    <constraints>${opts.constraints ?? ''}</constraints>
    ${opts.rscDefaults ? `<rsc_defaults><meta_attributes id="rd">${opts.rscDefaults}</meta_attributes></rsc_defaults>` : ''}
  </configuration>
  <status>${NODES.map(
    (n, i) =>
      `<node_state id="${i + 1}" uname="${n}" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="${i + 1}"><lrm_resources>${opts.status?.[n] ?? ''}</lrm_resources></lrm></node_state>`,
  ).join('')}</status>
</cib>`;
}

function dummy(id: string, meta = ''): string {
  return `<primitive id="${id}" class="ocf" provider="heartbeat" type="Dummy">${meta ? `<meta_attributes id="${id}-m">${meta}</meta_attributes>` : ''}<operations><op id="${id}-mon" name="monitor" interval="10s"/></operations></primitive>`;
}

function clone(id: string, child: string, meta = ''): string {
  return `<clone id="${id}"><meta_attributes id="${id}-m">${meta}</meta_attributes>${dummy(child)}</clone>`;
}

const KEY = '00000000-0000-0000-0000-000000000000';
// the agent has no parameters; recurring operations' digests include their timeout
const digest = (interval: number, params: Record<string, string> = {}): string =>
  parametersDigest(interval > 0 ? { ...params, CRM_meta_timeout: '20000' } : params);

/** A probe that found the resource stopped, recorded for an agent of the given type. */
function probed(id: string, type = 'Dummy', call = 5): string {
  return `<lrm_resource id="${id}" class="ocf" provider="heartbeat" type="${type}"><lrm_rsc_op id="${id}_last_0" operation_key="${id}_monitor_0" operation="monitor" crm-debug-origin="test" crm_feature_set="3.15.0" transition-key="1:1:7:${KEY}" transition-magic="0:7;1:1:7:${KEY}" exit-reason="" call-id="${call}" rc-code="7" op-status="0" interval="0" last-rc-change="1700000000" exec-time="1" queue-time="0" op-digest="${digest(0)}"/></lrm_resource>`;
}

/** A start still in progress (recorded with record-pending). */
function startPending(id: string): string {
  return `<lrm_resource id="${id}" class="ocf" provider="heartbeat" type="Dummy"><lrm_rsc_op id="${id}_last_0" operation_key="${id}_start_0" operation="start" crm-debug-origin="test" crm_feature_set="3.15.0" transition-key="1:1:0:${KEY}" transition-magic="-1:193;1:1:0:${KEY}" exit-reason="" call-id="-1" rc-code="193" op-status="-1" interval="0" last-rc-change="1700000000" exec-time="0" queue-time="0" op-digest="${digest(0)}"/></lrm_resource>`;
}

/** A started resource's history on a node (probe, start, monitor). */
function running(
  id: string,
  call = 10,
  params: Record<string, string> = {},
  monitorParams: Record<string, string> = {},
): string {
  const op = (task: string, interval: number, rc: number, c: number): string =>
    `<lrm_rsc_op id="${id}_${task}_${interval}" operation_key="${id}_${task}_${interval}" operation="${task}" crm-debug-origin="test" crm_feature_set="3.15.0" transition-key="1:1:0:${KEY}" transition-magic="0:${rc};1:1:0:${KEY}" exit-reason="" call-id="${c}" rc-code="${rc}" op-status="0" interval="${interval}" last-rc-change="1700000000" exec-time="1" queue-time="0" op-digest="${digest(interval, interval > 0 ? { ...params, ...monitorParams } : params)}"/>`;
  return `<lrm_resource id="${id}" class="ocf" provider="heartbeat" type="Dummy">${op('monitor', 0, 7, call)}${op('start', 0, 0, call + 1)}${op('monitor', 10000, 0, call + 2)}</lrm_resource>`;
}

const INTERLEAVE = '<nvpair id="@-i" name="interleave" value="true"/>';
const interleaved = (id: string, child: string, extra = ''): string =>
  clone(id, child, INTERLEAVE.replace('@', id) + extra);

const scenarios: Record<string, { xml: string; expect: (summary: string[]) => void }> = {
  // An interleaved instance without a partner may not run; when that partner
  // lost its own partner only later (orderings listed the other way round),
  // the whole chain still stays stopped instead of showing blocked starts.
  'a chain of interleaved clones after a disabled clone stays stopped': {
    xml: cib({
      resources:
        interleaved('a-clone', 'a', '<nvpair id="a-tr" name="target-role" value="Stopped"/>') +
        interleaved('b-clone', 'b') +
        interleaved('c-clone', 'c'),
      constraints:
        '<rsc_order id="o-bc" first="b-clone" then="c-clone"/>' +
        '<rsc_order id="o-ab" first="a-clone" then="b-clone"/>',
    }),
    expect: (summary) => expect(summary).toEqual([]),
  },
  // resource-discovery=exclusive: instances only where an exclusive location
  // allows them, and probes only there.
  'a clone with exclusive resource discovery runs only on the named nodes': {
    xml: cib({
      resources: clone('d-clone', 'd'),
      constraints:
        '<rsc_location id="l-d1" rsc="d-clone" node="n1" score="0" resource-discovery="exclusive"/>' +
        '<rsc_location id="l-d2" rsc="d-clone" node="n2" score="0" resource-discovery="exclusive"/>',
    }),
    expect: (summary) => {
      expect(summary).toHaveLength(2);
      expect(summary.join('\n')).not.toContain('n3');
    },
  },
  // A member's own target-role wins over the one it would inherit from its
  // group (here the group gets Stopped from rsc_defaults).
  "a group member's own target-role overrides the group's": {
    xml: cib({
      resources: `<group id="g">${dummy('g1', '<nvpair id="g1-tr" name="target-role" value="Started"/>')}${dummy('g2')}</group>`,
      rscDefaults: '<nvpair id="rd-tr" name="target-role" value="Stopped"/>',
    }),
    expect: (summary) => expect(summary).toEqual(['* Start g1 (n1)']),
  },
  // A start that can no longer run because of an ordering blocks the start of
  // what is colocated with it with INFINITY: the dependent stops too.
  'a resource colocated with one ordered after a stopping clone stops': {
    xml: cib({
      resources:
        clone('k-clone', 'k', '<nvpair id="k-tr" name="target-role" value="Stopped"/>') +
        dummy('central') +
        dummy('engine'),
      constraints:
        '<rsc_order id="o-kc" first="k-clone" then="central"/>' +
        '<rsc_colocation id="c-ec" rsc="engine" with-rsc="central" score="INFINITY"/>',
      status: {
        n1: running('k') + running('central', 20) + running('engine', 30),
        n2: running('k'),
      },
    }),
    expect: (summary) =>
      expect(summary).toContain('* Stop engine (n1) due to colocation with central'),
  },
  // Before an action on a node, a clone's "running" is required only if an
  // instance starts there: a new instance elsewhere restarts nothing.
  'a new instance elsewhere does not restart a group ordered after the clone': {
    xml: cib({
      resources:
        clone('z-clone', 'z', '<nvpair id="z-max" name="clone-max" value="2"/>') +
        `<group id="g">${dummy('g1')}${dummy('g2')}</group>`,
      constraints:
        '<rsc_order id="o-zg" first="z-clone" then="g"/>' +
        '<rsc_colocation id="c-gz" rsc="g" with-rsc="z-clone" score="INFINITY"/>',
      status: { n1: running('z') + running('g1', 20) + running('g2', 30) },
    }),
    expect: (summary) => {
      expect(summary).toHaveLength(1);
      expect(summary[0]).toMatch(/^\* Start z:1 \(n[23]\)$/);
    },
  },
  // A clone's (or group's) instance attributes are parameters of what it
  // holds: the digests recorded with them still match, nothing restarts.
  "parameters inherited from the clone are part of the instance's digest": {
    xml: cib({
      resources:
        '<clone id="p-clone"><instance_attributes id="p-clone-i"><nvpair id="p-clone-lvl" name="level" value="3"/></instance_attributes>' +
        '<meta_attributes id="p-clone-m"><nvpair id="p-max" name="clone-max" value="1"/></meta_attributes>' +
        `${dummy('p')}</clone>`,
      status: { n1: running('p', 10, { level: '3' }) },
    }),
    expect: (summary) => expect(summary).toEqual([]),
  },
  // A changed definition restarts the resource; when it requires nothing,
  // placing its start clears the reason (as Pacemaker does).
  'a restart for a changed definition of a resource that requires nothing gives no reason': {
    xml: cib({
      resources:
        '<primitive id="q" class="ocf" provider="heartbeat" type="Dummy">' +
        '<instance_attributes id="q-i"><nvpair id="q-s" name="state" value="/run/q"/></instance_attributes>' +
        '<meta_attributes id="q-m"><nvpair id="q-req" name="requires" value="nothing"/></meta_attributes>' +
        '<operations><op id="q-mon" name="monitor" interval="10s"/></operations></primitive>',
      status: { n1: running('q') },
    }),
    expect: (summary) => expect(summary).toEqual(['* Restart q (n1)']),
  },
  // An orphan's history is deleted wherever it has one, stopped or not, and
  // a stopped resource's history recorded for another agent is deleted too.
  "an orphan's and a changed agent's histories are deleted where they are stopped": {
    xml: cib({
      resources: dummy('kept'),
      status: {
        n1: probed('gone') + probed('kept', 'Stateful', 6),
        n2: probed('gone'),
      },
    }),
    expect: (summary) => expect(summary).toEqual(['* Start kept (n1)']),
  },
  // Only OCF and fencing agents can be globally unique: an LSB clone is
  // anonymous, with at most one instance per node (clone-max capped).
  'a globally-unique clone of an LSB service is anonymous': {
    xml: cib({
      resources:
        '<clone id="l-clone"><meta_attributes id="l-m"><nvpair id="l-u" name="globally-unique" value="true"/><nvpair id="l-max" name="clone-max" value="5"/></meta_attributes>' +
        '<primitive id="l" class="lsb" type="LSBDummy"/></clone>',
    }),
    expect: (summary) =>
      expect(summary).toEqual(['* Start l:0 (n1)', '* Start l:1 (n2)', '* Start l:2 (n3)']),
  },
  // A start already pending stays in the transition (optional, so without a
  // summary line) where the instance is placed.
  'a pending start of a clone instance is part of the transition': {
    xml: cib({
      resources: clone('s-clone', 's', '<nvpair id="s-u" name="globally-unique" value="true"/>'),
      status: { n1: startPending('s:0'), n2: startPending('s:1') },
    }),
    expect: (summary) => expect(summary).toEqual(['* Start s:2 (n3)']),
  },
  // maintenance-mode puts every resource in maintenance: no recurring monitors
  // are scheduled for what runs.
  'maintenance-mode schedules no recurring monitors': {
    xml: cib({
      resources: dummy('m'),
      status: {
        n1: `<lrm_resource id="m" class="ocf" provider="heartbeat" type="Dummy"><lrm_rsc_op id="m_last_0" operation_key="m_monitor_0" operation="monitor" crm-debug-origin="test" crm_feature_set="3.15.0" transition-key="1:1:7:${KEY}" transition-magic="0:0;1:1:7:${KEY}" exit-reason="" call-id="3" rc-code="0" op-status="0" interval="0" last-rc-change="1700000000" exec-time="1" queue-time="0" op-digest="${digest(0)}"/></lrm_resource>`,
      },
    }).replace(
      '<nvpair id="o1" name="stonith-enabled" value="false"/>',
      '<nvpair id="o1" name="stonith-enabled" value="false"/><nvpair id="o2" name="maintenance-mode" value="true"/>',
    ),
    expect: (summary) => expect(summary).toEqual([]),
  },
  // An operation's own instance attributes are part of its digest: a monitor
  // recorded with them is not rescheduled.
  "an operation's own parameters are part of its digest": {
    xml: cib({
      resources:
        '<primitive id="od" class="ocf" provider="heartbeat" type="Dummy"><operations>' +
        '<op id="od-mon" name="monitor" interval="10s"><instance_attributes id="od-mon-i"><nvpair id="od-depth" name="depth" value="0"/></instance_attributes></op>' +
        '</operations></primitive>',
      status: { n1: running('od', 10, {}, { depth: '0' }) },
    }),
    expect: (summary) => expect(summary).toEqual([]),
  },
  // A pending start superseded by a stop a later transition scheduled (its
  // call id is -1, so only the transitions tell which came last): stopped.
  'a stop scheduled after a pending start leaves the resource stopped': {
    xml: cib({
      resources: dummy('ps'),
      status: {
        n1:
          '<lrm_resource id="ps" class="ocf" provider="heartbeat" type="Dummy">' +
          `<lrm_rsc_op id="ps_start_0" operation_key="ps_start_0" operation="start" crm-debug-origin="test" crm_feature_set="3.15.0" transition-key="-1:8:0:${KEY}" transition-magic="-1:-1;-1:8:0:${KEY}" call-id="-1" rc-code="-1" op-status="-1" interval="0" op-digest="${digest(0)}"/>` +
          `<lrm_rsc_op id="ps_stop_0" operation_key="ps_stop_0" operation="stop" crm-debug-origin="test" crm_feature_set="3.15.0" transition-key="0:9:0:${KEY}" transition-magic="0:0;0:9:0:${KEY}" call-id="8" rc-code="0" op-status="0" interval="0" last-rc-change="1700000000" exec-time="1" queue-time="0" op-digest="${digest(0)}"/>` +
          '</lrm_resource>',
      },
    }),
    expect: (summary) => {
      expect(summary).toHaveLength(1);
      expect(summary[0]).toMatch(/^\* Start ps \(n\d\)$/);
    },
  },
};

describe('clones agree with crm_simulate', () => {
  for (const [name, s] of Object.entries(scenarios)) {
    it(name, () => {
      const ours = sections(formatSimulation(schedule(s.xml), { simulate: true }));
      s.expect(ours.summary);
      const { summary, actions } = sections(crmSimulate(s.xml));
      expect({ summary: ours.summary, actions: ours.actions }).toEqual({ summary, actions });
    });
  }
});
