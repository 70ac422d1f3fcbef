import { parametersDigest, schedule } from '../src';
import { expectSameTransition } from './simulate-output';
import { nextRoleToward, roleStep } from '../src/actions';
import { INF, Role } from '../src/model';
import {
  PromotableConfigError,
  baseName,
  parsePromotionScore,
  promotableSettings,
  promotionScoreName,
} from '../src/promotable';

describe('role transitions (Pacemaker role table)', () => {
  const path = (from: Role, to: Role): string[] => {
    const steps: string[] = [];
    let role = from;
    while (role !== to) {
      const next = nextRoleToward(role, to);
      const step = roleStep(role, next);
      if (!step) break;
      steps.push(step);
      role = next;
    }
    return steps;
  };

  it('starts and then promotes a stopped instance that is to be promoted', () => {
    expect(path(Role.Stopped, Role.Promoted)).toEqual(['start', 'promote']);
  });

  it('demotes before it stops a promoted instance', () => {
    expect(path(Role.Promoted, Role.Stopped)).toEqual(['demote', 'stop']);
  });

  it('only demotes a promoted instance that stays unpromoted', () => {
    expect(path(Role.Promoted, Role.Unpromoted)).toEqual(['demote']);
  });

  it('only promotes an unpromoted (or started) instance', () => {
    expect(path(Role.Unpromoted, Role.Promoted)).toEqual(['promote']);
    expect(path(Role.Started, Role.Promoted)).toEqual(['promote']);
  });

  it('has nothing to do between started and unpromoted', () => {
    expect(path(Role.Started, Role.Unpromoted)).toEqual([]);
  });

  it('starts and stops plain resources in one step', () => {
    expect(path(Role.Stopped, Role.Started)).toEqual(['start']);
    expect(path(Role.Started, Role.Stopped)).toEqual(['stop']);
  });
});

describe('promotion scores', () => {
  it('are read from the master-<resource> node attribute', () => {
    expect(promotionScoreName('drbd:1')).toBe('master-drbd:1');
  });

  it('parse INFINITY words and leading integers as crm_attribute writes them', () => {
    expect(parsePromotionScore('INFINITY')).toBe(INF);
    expect(parsePromotionScore('+INFINITY')).toBe(INF);
    expect(parsePromotionScore('-INFINITY')).toBe(-INF);
    expect(parsePromotionScore('10')).toBe(10);
    expect(parsePromotionScore('-5')).toBe(-5);
    expect(parsePromotionScore('1000000000')).toBe(INF);
    expect(parsePromotionScore('abc')).toBe(0);
  });

  it('name anonymous instances without their instance number as a fallback', () => {
    expect(baseName('stateful:3')).toBe('stateful');
    expect(baseName('stateful')).toBe('stateful');
  });
});

describe('promotable settings', () => {
  it('default to one promoted instance in all and per node', () => {
    expect(promotableSettings('ms', {})).toEqual({ promotedMax: 1, promotedNodeMax: 1 });
  });

  it('read promoted-max and promoted-node-max, or the older master-* names', () => {
    expect(promotableSettings('ms', { 'promoted-max': '2', 'master-node-max': '2' })).toEqual({
      promotedMax: 2,
      promotedNodeMax: 2,
    });
    expect(promotableSettings('ms', { 'promoted-max': '3', 'master-max': '1' }).promotedMax).toBe(
      3,
    );
  });

  it('reject a count that is not a non-negative integer, naming the clone and attribute', () => {
    expect(() => promotableSettings('ms1', { 'promoted-max': 'two' })).toThrow(
      PromotableConfigError,
    );
    expect(() => promotableSettings('ms1', { 'promoted-node-max': '-1' })).toThrow(
      /promotable clone 'ms1': promoted-node-max="-1" must be a non-negative integer/,
    );
  });
});

// ---------------------------------------------------------------- against crm_simulate

const KEY = '00000000-0000-0000-0000-000000000000';
/** One history entry of the Stateful agent (rc 8: running promoted). */
const op = (rsc: string, task: string, rc: number, call: number, interval = 0): string => {
  const expected = task === 'monitor' && interval === 0 ? 7 : rc === 8 ? 8 : 0;
  return (
    `<lrm_rsc_op id="${rsc}_${task}_${interval}" operation_key="${rsc}_${task}_${interval}" operation="${task}" ` +
    `crm-debug-origin="test" crm_feature_set="3.16.2" transition-key="1:1:${expected}:${KEY}" ` +
    `transition-magic="0:${rc};1:1:${expected}:${KEY}" call-id="${call}" rc-code="${rc}" op-status="0" ` +
    `interval="${interval}" last-rc-change="1700000000" exec-time="1" queue-time="0" ` +
    // the agent has no parameters; recurring operations' digests include their timeout
    `op-digest="${parametersDigest(interval > 0 ? { CRM_meta_timeout: '20000' } : {})}"/>`
  );
};
const stateful = (id: string, ops: string): string =>
  `<lrm_resource id="${id}" class="ocf" provider="pacemaker" type="Stateful">${ops}</lrm_resource>`;
/** Promoted (or unpromoted) instance history: probe, start, promote, role monitor. */
const running = (id: string, promoted: boolean): string =>
  stateful(
    id,
    op(id, 'monitor', 7, 1) +
      op(id, 'start', 0, 2) +
      (promoted
        ? op(id, 'promote', 0, 3) + op(id, 'monitor', 8, 4, 10000)
        : op(id, 'monitor', 0, 4, 11000)),
  );

function promotableCib(opts: {
  meta?: string;
  extraResources?: string;
  constraints?: string;
  scores?: Record<string, number>;
  nodeAttrs?: Record<string, string>;
  status?: Record<string, string>;
}): string {
  const nodes = ['n1', 'n2', 'n3'];
  const transient = (n: string): string => {
    const s = opts.scores?.[n];
    if (s === undefined) return '';
    return `<transient_attributes id="${n}-t"><instance_attributes id="${n}-ta"><nvpair id="${n}-ms" name="master-state" value="${s}"/></instance_attributes></transient_attributes>`;
  };
  return `<cib admin_epoch="0" epoch="1" num_updates="1" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1" execution-date="1700000100">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes>${nodes
      .map(
        (n, i) =>
          `<node id="${i + 1}" uname="${n}">${opts.nodeAttrs?.[n] ? `<instance_attributes id="${n}-a">${opts.nodeAttrs[n]}</instance_attributes>` : ''}</node>`,
      )
      .join('')}</nodes>
    <resources>
      <clone id="ms"><meta_attributes id="ms-m"><nvpair id="ms-p" name="promotable" value="true"/>${opts.meta ?? ''}</meta_attributes>
        <primitive id="state" class="ocf" provider="pacemaker" type="Stateful"><operations>
          <op id="state-mon-p" name="monitor" interval="10s" role="Promoted"/>
          <op id="state-mon-u" name="monitor" interval="11s" role="Unpromoted"/>
        </operations></primitive>
      </clone>${opts.extraResources ?? ''}
    </resources>
    <constraints>${opts.constraints ?? ''}</constraints>
  </configuration>
  <status>${nodes
    .map(
      (n, i) =>
        `<node_state id="${i + 1}" uname="${n}" in_ccm="true" crmd="online" join="member" expected="member">${transient(n)}<lrm id="${i + 1}"><lrm_resources>${opts.status?.[n] ?? ''}</lrm_resources></lrm></node_state>`,
    )
    .join('')}</status>
</cib>`;
}

const allRunning = {
  n1: running('state', true),
  n2: running('state', false),
  n3: running('state', false),
};

const promotableScenarios: Record<string, string> = {
  'cluster start: the highest promotion score is promoted, the others run unpromoted':
    promotableCib({ scores: { n1: 5, n2: 10, n3: 5 } }),
  'no promotion score anywhere: nothing is promoted': promotableCib({}),
  'a role=Promoted location moves the promotion to its node': promotableCib({
    scores: { n1: 10, n2: 10, n3: 10 },
    constraints: '<rsc_location id="lp" rsc="ms" role="Promoted" node="n3" score="100"/>',
    status: allRunning,
  }),
  'the promoted node goes standby: demote and stop there, promote elsewhere': promotableCib({
    scores: { n1: 10, n2: 5, n3: 10 },
    nodeAttrs: { n1: '<nvpair id="n1-sb" name="standby" value="on"/>' },
    status: allRunning,
  }),
  'promoted-max 2 and a dependent colocated with the promoted role, ordered after promote':
    promotableCib({
      meta: '<nvpair id="ms-pm" name="promoted-max" value="2"/>',
      scores: { n1: 10, n2: 20, n3: 5 },
      extraResources:
        '<primitive id="vip" class="ocf" provider="heartbeat" type="Dummy"><operations><op id="vip-mon" name="monitor" interval="10s"/></operations></primitive>',
      constraints:
        '<rsc_colocation id="col-vip" rsc="vip" with-rsc="ms" with-rsc-role="Promoted" score="INFINITY"/>' +
        '<rsc_order id="ord-vip" first="ms" first-action="promote" then="vip" then-action="start" kind="Mandatory"/>' +
        '<rsc_location id="lv" rsc="vip" node="n2" score="-INFINITY"/>',
    }),
  'target-role Unpromoted demotes the promoted instance': promotableCib({
    meta: '<nvpair id="ms-tr" name="target-role" value="Unpromoted"/>',
    scores: { n1: 10, n2: 5, n3: 5 },
    status: allRunning,
  }),
};

describe('promotable clones agree with crm_simulate', () => {
  for (const [name, xml] of Object.entries(promotableScenarios)) {
    it(name, () => {
      // the transition only: status lists of promotable clones are not all crm_simulate's yet
      expectSameTransition(xml);
    });
  }
});

describe('promote and demote notifications (notify=true)', () => {
  const notifyMeta = '<nvpair id="ms-n" name="notify" value="true"/>';
  // the promoted node goes standby: n1 demotes and stops, n2 or n3 is promoted
  const moveXml = promotableCib({
    meta: notifyMeta,
    scores: { n1: 10, n2: 5, n3: 10 },
    nodeAttrs: { n1: '<nvpair id="n1-sb" name="standby" value="on"/>' },
    status: allRunning,
  });

  it('tell every active instance before and after a demotion and a promotion', () => {
    const result = schedule(moveXml);
    const notifies = result.actions
      .filter((a) => a.type === 'rsc_op' && a.task === 'notify')
      .map((a) => `${a.key}@${a.node}`)
      .sort();
    expect(notifies).toEqual([
      // demote: all three are active; n1 demotes (and is told after, it is still active)
      'state:0_post_notify_demote_0@n1',
      'state:0_pre_notify_demote_0@n1',
      // stop: n1 stops, so it is only told before
      'state:0_pre_notify_stop_0@n1',
      // promote: told where the instances will run, before and after
      'state:1_post_notify_demote_0@n2',
      'state:1_post_notify_promote_0@n2',
      'state:1_post_notify_stop_0@n2',
      'state:1_pre_notify_demote_0@n2',
      'state:1_pre_notify_promote_0@n2',
      'state:1_pre_notify_stop_0@n2',
      'state:2_post_notify_demote_0@n3',
      'state:2_post_notify_promote_0@n3',
      'state:2_post_notify_stop_0@n3',
      'state:2_pre_notify_demote_0@n3',
      'state:2_pre_notify_promote_0@n3',
      'state:2_pre_notify_stop_0@n3',
    ]);
  });

  it('confirm every demotion before stops, starts and promotions are notified', () => {
    const result = schedule(moveXml);
    const byKey = new Map(result.actions.map((a) => [a.key, a]));
    const inputsOf = (key: string): string[] =>
      (byKey.get(key)?.inputs ?? []).map((i) => result.actions.find((a) => a.id === i)?.key ?? '');
    expect(inputsOf('ms_pre_notify_promote_0')).toEqual(
      expect.arrayContaining([
        'ms_confirmed-post_notify_demoted_0',
        'ms_confirmed-post_notify_stopped_0',
      ]),
    );
    expect(inputsOf('ms_pre_notify_stop_0')).toContain('ms_confirmed-post_notify_demoted_0');
    // the promotion waits for its pre-notifications to be confirmed
    expect(inputsOf('ms_promote_0')).toContain('ms_confirmed-pre_notify_promote_0');
  });

  it('agree with crm_simulate', () => {
    expectSameTransition(moveXml);
  });

  it('are not sent when nothing is promoted or demoted', () => {
    const xml = promotableCib({
      meta: notifyMeta,
      scores: { n1: 10, n2: 5, n3: 5 },
      status: allRunning,
    });
    expect(schedule(xml).actions.filter((a) => a.task === 'notify')).toEqual([]);
  });
});
