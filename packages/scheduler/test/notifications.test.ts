import { parametersDigest, schedule } from '../src';
import { expectSameTransition } from './simulate-output';

/** Clone notifications around stops implied by fencing (pe__order_notifs_after_fencing). */
const KEY = '00000000-0000-0000-0000-000000000000';
const started = (rsc: string): string =>
  `<lrm_resource id="${rsc}" class="ocf" provider="pacemaker" type="Dummy"><lrm_rsc_op id="${rsc}_last_0" ` +
  `operation_key="${rsc}_start_0" operation="start" crm-debug-origin="test" crm_feature_set="3.16.2" ` +
  `transition-key="1:1:0:${KEY}" transition-magic="0:0;1:1:0:${KEY}" call-id="2" rc-code="0" op-status="0" ` +
  `interval="0" last-rc-change="1700000000" exec-time="1" queue-time="0" op-digest="${parametersDigest({})}"/></lrm_resource>`;

function cib(notifyOn: 'clone' | 'primitive'): string {
  const nodes = ['n1', 'n2', 'n3'];
  const notify = '<nvpair id="PLACE-n" name="notify" value="true"/>';
  return `<cib admin_epoch="0" epoch="1" num_updates="1" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1" execution-date="1700000100">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="true"/></cluster_property_set></crm_config>
    <nodes>${nodes.map((n, i) => `<node id="${i + 1}" uname="${n}"/>`).join('')}</nodes>
    <resources>
      <primitive id="fencing" class="stonith" type="fence_dummy"/>
      <clone id="c"><meta_attributes id="c-m">${notifyOn === 'clone' ? notify.replace('PLACE', 'c') : ''}</meta_attributes>
        <primitive id="d" class="ocf" provider="pacemaker" type="Dummy"><meta_attributes id="d-m">${
          notifyOn === 'primitive' ? notify.replace('PLACE', 'd') : ''
        }</meta_attributes></primitive>
      </clone>
    </resources>
    <constraints/>
  </configuration>
  <status>${nodes
    .map(
      (n, i) =>
        // n3 left the cluster without a clean shutdown: it must be fenced
        `<node_state id="${i + 1}" uname="${n}" in_ccm="${n !== 'n3'}" crmd="${n === 'n3' ? 'offline' : 'online'}" join="${n === 'n3' ? 'down' : 'member'}" expected="member"><lrm id="${i + 1}"><lrm_resources>${started('d')}${
          n === 'n1'
            ? started('fencing').replace(
                /ocf" provider="pacemaker" type="Dummy/,
                'stonith" type="fence_dummy',
              )
            : ''
        }</lrm_resources></lrm></node_state>`,
    )
    .join('')}</status>
</cib>`;
}

describe('notifications after fencing', () => {
  for (const where of ['clone', 'primitive'] as const) {
    it(`tell the instances that stay active once the fenced node's instance is stopped (notify on the ${where})`, () => {
      const xml = cib(where);
      expectSameTransition(xml);
      const result = schedule(xml);
      const fence = result.actions.find((a) => a.task === 'stonith' && a.node === 'n3');
      const notifies = result.actions.filter((a) => a.task === 'notify');
      // the survivors on n1 and n2 are told after the fencing, never the fenced node
      expect(
        notifies
          .filter((a) => a.key.includes('_post_notify_stop_'))
          .map((a) => a.node)
          .sort(),
      ).toEqual(['n1', 'n2']);
      expect(notifies.some((a) => a.node === 'n3')).toBe(false);
      const ids = new Map(result.actions.map((a) => [a.id, a]));
      const before = (id: number, seen = new Set<number>()): Set<number> => {
        for (const i of ids.get(id)?.inputs ?? []) if (!seen.has(i)) before(i, seen.add(i));
        return seen;
      };
      for (const n of notifies.filter((a) => a.key.includes('_post_notify_stop_')))
        expect(before(n.id).has(fence?.id ?? -1)).toBe(true);
    });
  }
});
