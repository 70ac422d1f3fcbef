import { verifyCib } from '../src';

const base = (constraints: string, extra = '') => `<cib epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>
      <primitive id="vm1" class="ocf" provider="heartbeat" type="VirtualDomain"><meta_attributes id="vm1-m"><nvpair id="vm1-rn" name="remote-node" value="guest1"/></meta_attributes></primitive>
      <primitive id="d1" class="ocf" provider="heartbeat" type="Dummy"/>
      ${extra}
    </resources>
    <constraints>${constraints}</constraints>
  </configuration>
  <status/>
</cib>`;

describe('verifyCib', () => {
  test('a good CIB is valid', () => {
    const r = verifyCib(base('<rsc_location id="l" rsc="d1" node="guest1" score="100"/>'));
    expect(r.valid).toBe(true);
    expect(r.diagnostics).toEqual([]);
  });

  test('XML syntax errors carry file, line and column', () => {
    const r = verifyCib('<cib>\n<configuration>\n</cib>', 'my.xml');
    expect(r.valid).toBe(false);
    expect(r.diagnostics[0]).toMatchObject({ path: 'my.xml:3:1' });
  });

  test('finds every problem, each with its path', () => {
    const r = verifyCib(
      base(
        `<rsc_order id="o1" first="d1" then="nope" kind="Sometimes"/>
         <rsc_colocation id="c1" rsc="d1" with-rsc="d1" score="lots"/>`,
        `<primitive id="d1" class="ocf" provider="heartbeat" type="Dummy"/>
         <primitive id="x" class="weird" type="y"/>
         <primitive id="node1" class="ocf" provider="pacemaker" type="remote"/>
         <primitive id="vm2" class="ocf" provider="heartbeat" type="VirtualDomain"><meta_attributes id="vm2-m"><nvpair id="vm2-rn" name="remote-node" value="guest1"/></meta_attributes></primitive>`,
      ),
    );
    const messages = r.diagnostics.map((d) => `${d.path}: ${d.message}`);
    expect(r.valid).toBe(false);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/id 'd1' is already used by <primitive>/),
        expect.stringMatching(/rsc_colocation\[@id='c1'\]\/@score: 'lots' is not a score/),
      ]),
    );
  });

  test('references, kinds, classes and guest names are checked once the CIB reads', () => {
    const r = verifyCib(
      base(
        '<rsc_order id="o1" first="d1" then="nope" kind="Sometimes"/>',
        `<primitive id="x" class="weird" type="y"/>
         <primitive id="node1" class="ocf" provider="pacemaker" type="remote"/>
         <primitive id="vm2" class="ocf" provider="heartbeat" type="VirtualDomain"><meta_attributes id="vm2-m"><nvpair id="vm2-rn" name="remote-node" value="guest1"/></meta_attributes></primitive>`,
      ),
    );
    const messages = r.diagnostics.map((d) => d.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        "then 'nope' is not a resource",
        "kind 'Sometimes' is not Mandatory, Optional or Serialize (treated as Mandatory)",
        expect.stringMatching(/unknown resource class 'weird'/),
        "remote node 'node1' is also the name of a cluster node",
        "remote-node 'guest1' is already the guest node of resource 'vm1'",
      ]),
    );
  });

  test('fencing enabled without fencing devices is an error, as with crm_verify', () => {
    const r = verifyCib(base('').replace('value="false"', 'value="true"'));
    expect(r.valid).toBe(false);
    expect(r.diagnostics[0]!.message).toMatch(/no stonith resources/);
  });
});
