import { renderCib, units, withoutUnits } from '../tools/cib-model';
import { differential, verifyConfiguration } from '../tools/differential';
import { AllFeatures, generateCib, parseFeatures } from '../tools/generate';
import { caseSeed } from '../tools/rng';
import { mapPool } from '../tools/run';

const seeds = Array.from({ length: 40 }, (_, i) => caseSeed(42, i));

describe('the random CIB generator (fuzz:scheduler)', () => {
  it('gives the same CIB for the same seed and different CIBs for different seeds', () => {
    const a = seeds.map((s) => renderCib(generateCib(s)));
    const b = seeds.map((s) => renderCib(generateCib(s)));
    expect(b).toEqual(a);
    expect(new Set(a).size).toBe(a.length);
  });

  it('writes configurations crm_verify accepts, with every feature on', async () => {
    const problems = await mapPool(seeds, 4, async (s) => {
      const bad = await verifyConfiguration(generateCib(s));
      return bad ? `seed ${s}: ${bad}` : undefined;
    });
    expect(problems.filter(Boolean)).toEqual([]);
  });

  it('uses only the features asked for', () => {
    const features = parseFeatures('primitive,location');
    for (const s of seeds) {
      const xml = renderCib(generateCib(s, { features }));
      expect(xml).not.toMatch(
        /<group|<clone|ocf:pacemaker:remote|type="remote"|remote-node|rsc_colocation|rsc_order|<lrm_rsc_op|class="stonith"/,
      );
    }
    const all = seeds.map((s) => renderCib(generateCib(s))).join('\n');
    for (const tag of [
      '<group',
      '<clone',
      'type="remote"',
      'remote-node',
      'rsc_colocation',
      'rsc_order',
      'fail-count-',
      'class="stonith"',
    ])
      expect(all).toContain(tag);
  });

  it('rejects unknown feature names, naming them and the known ones', () => {
    expect(() => parseFeatures('primitive,bundles')).toThrow(
      /unknown feature "bundles".*primitive, group/,
    );
    expect(parseFeatures('all,-clone')).toEqual(AllFeatures.filter((f) => f !== 'clone'));
  });

  it('writes status records crm_simulate reads as the generator meant (crm_simulate agrees with itself)', async () => {
    const outcomes = await mapPool(seeds.slice(0, 12), 4, (s) =>
      differential(renderCib(generateCib(s)), {
        reference: ['crm_simulate'],
        candidate: ['crm_simulate'],
        timeoutMs: 30000,
      }),
    );
    expect(outcomes.map((o) => o.status)).toEqual(outcomes.map(() => 'agree'));
  });

  it('records parameter digests Pacemaker computes itself (no restart for a definition change)', async () => {
    const features = parseFeatures('all,-digest-change');
    const outs = await mapPool(seeds.slice(0, 12), 4, async (s) => {
      const o = await differential(renderCib(generateCib(s, { features })), {
        reference: ['crm_simulate'],
        candidate: ['crm_simulate'],
        timeoutMs: 30000,
      });
      return o.status === 'reference-failed' ? o.reason : o.reference.stdout;
    });
    for (const out of outs) expect(out).not.toMatch(/due to resource definition change/);
  });

  it('removes a resource together with the constraints and history naming it', () => {
    const cib = generateCib(seeds.find((s) => generateCib(s).constraints.length > 2)!);
    const victim = cib.constraints[0]!;
    const rsc = victim.type === 'order' ? victim.first : victim.rsc;
    const smaller = withoutUnits(cib, new Set([`rsc:${rsc}`]));
    const xml = renderCib(smaller);
    expect(xml).not.toMatch(new RegExp(`"${rsc}"`));
    expect(units(smaller).length).toBeLessThan(units(cib).length);
  });
});
