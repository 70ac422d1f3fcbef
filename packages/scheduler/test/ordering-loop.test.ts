import { schedule } from '../src';
import { expectSameTransition } from './simulate-output';

/*
 * Orderings that make actions wait for each other: nothing in the loop runs,
 * nor anything after it (as crm_simulate: "Transition failed"), and the
 * warning names exactly the actions in the loop and counts those waiting.
 */

const cib = `<cib admin_epoch="0" epoch="1" num_updates="1" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1" execution-date="1700000100">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/></nodes>
    <resources>
      <primitive id="a" class="ocf" provider="pacemaker" type="Dummy"><operations><op id="a-m" name="monitor" interval="10s"/></operations></primitive>
      <primitive id="b" class="ocf" provider="pacemaker" type="Dummy"/>
      <primitive id="c" class="ocf" provider="pacemaker" type="Dummy"/>
    </resources>
    <constraints><rsc_order id="o-ab" first="a" then="b"/><rsc_order id="o-ba" first="b" then="a" symmetrical="false"/><rsc_order id="o-bc" first="b" then="c"/></constraints>
  </configuration>
  <status><node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member"/></status>
</cib>`;

describe('ordering loops', () => {
  it('a then b, b then a: only the probes run, as in crm_simulate', () => {
    const ours = expectSameTransition(cib);
    expect(ours.actions).toEqual([
      '* Resource action: a monitor on n1',
      '* Resource action: b monitor on n1',
      '* Resource action: c monitor on n1',
    ]);
  });

  it('the warning names the two starts in the loop and counts what waits for them', () => {
    const loops = schedule(cib).warnings.filter((w) => w.startsWith('ordering loop'));
    expect(loops).toHaveLength(1);
    const [warning] = loops as [string];
    expect(
      warning.match(/Resource action:\s+\w+\s+\S+ on n1/g)?.map((s) => s.replace(/\s+/g, ' ')),
    ).toEqual(['Resource action: a start on n1', 'Resource action: b start on n1']);
    // a's recurring monitor and c's start wait for the loop without being in it
    expect(warning).toMatch(/\(and 2 actions waiting for them\)$/);
  });
});
