/**
 * The reference deployment CIB (same shape as ../shared/bin/gen-deployment-cib,
 * used by bench:scheduler when the shared folder is absent): C cluster nodes
 * hosting G guests (VirtualDomain VMs with remote-node, or --remote
 * ocf:pacemaker:remote connections) and S Dummy services (or web+db groups),
 * service i preferring guest ((i-1) % G)+1 with score 100 and banned from
 * nodes of any other kind; every cluster node online, nothing running yet.
 */
export interface DeploymentOptions {
  readonly remote?: boolean;
  readonly groups?: boolean;
}

export function deploymentCib(c: number, g: number, s: number, o: DeploymentOptions = {}): string {
  const lines: string[] = [];
  const w = (l: string): void => {
    lines.push(l);
  };
  w(
    '<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1">',
  );
  w('  <configuration>');
  w(
    '    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>',
  );
  w('    <nodes>');
  for (let i = 1; i <= c; i++) w(`      <node id="${i}" uname="node${i}"/>`);
  w('    </nodes>');
  w('    <resources>');
  for (let i = 1; i <= g; i++) {
    if (o.remote)
      w(
        `      <primitive class="ocf" id="guest${i}" provider="pacemaker" type="remote"><instance_attributes id="guest${i}-ia"><nvpair id="guest${i}-server" name="server" value="192.0.2.${(i % 250) + 1}"/></instance_attributes><operations><op id="guest${i}-mon" name="monitor" interval="30s"/></operations></primitive>`,
      );
    else
      w(
        `      <primitive class="ocf" id="vm${i}" provider="heartbeat" type="VirtualDomain"><instance_attributes id="vm${i}-ia"><nvpair id="vm${i}-cfg" name="config" value="/etc/libvirt/qemu/vm${i}.xml"/></instance_attributes><meta_attributes id="vm${i}-meta"><nvpair id="vm${i}-rn" name="remote-node" value="guest${i}"/></meta_attributes><operations><op id="vm${i}-mon" name="monitor" interval="30s"/></operations></primitive>`,
      );
  }
  const dummy = (id: string): string =>
    `<primitive class="ocf" id="${id}" provider="heartbeat" type="Dummy"><operations><op id="${id}-mon" name="monitor" interval="10s"/></operations></primitive>`;
  for (let i = 1; i <= s; i++)
    w(
      o.groups
        ? `      <group id="svc${i}">${dummy(`web${i}`)}${dummy(`db${i}`)}</group>`
        : `      ${dummy(`svc${i}`)}`,
    );
  w('    </resources>');
  w('    <constraints>');
  const kind = o.remote ? 'remote' : 'container';
  for (let i = 1; i <= s; i++) {
    const guest = ((i - 1) % g) + 1;
    w(`      <rsc_location id="prefer-svc${i}" rsc="svc${i}" node="guest${guest}" score="100"/>`);
    w(
      `      <rsc_location id="guests-only-svc${i}" rsc="svc${i}"><rule id="guests-only-svc${i}-r" score="-INFINITY"><expression id="guests-only-svc${i}-e" attribute="#kind" operation="ne" value="${kind}"/></rule></rsc_location>`,
    );
  }
  w('    </constraints>');
  w('  </configuration>');
  w('  <status>');
  for (let i = 1; i <= c; i++)
    w(
      `    <node_state id="${i}" uname="node${i}" in_ccm="true" crmd="online" join="member" expected="member"/>`,
    );
  w('  </status>');
  w('</cib>');
  return lines.join('\n') + '\n';
}
