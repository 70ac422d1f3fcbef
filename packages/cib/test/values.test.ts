import {
  CibStructureError,
  INFINITY,
  addScores,
  evaluateRule,
  formatScore,
  parseBoolean,
  parseScore,
  parseXml,
} from '../src';
import { readRule } from '../src/rules';

describe('scores and booleans', () => {
  test.each([
    ['INFINITY', INFINITY],
    ['+INFINITY', INFINITY],
    ['-INFINITY', -INFINITY],
    ['100', 100],
    ['-5', -5],
    ['99999999', INFINITY],
  ])('score %p is %d', (text, value) => expect(parseScore(text)).toBe(value));

  test('a bad score names where it was found', () => {
    expect(() => parseScore('lots', "/cib/constraints/rsc_location[@id='x']/@score")).toThrow(
      CibStructureError,
    );
    expect(() => parseScore('lots', 'here')).toThrow(/here: 'lots' is not a score/);
  });

  test('score arithmetic: -INFINITY wins, results clamp', () => {
    expect(addScores(INFINITY, -INFINITY)).toBe(-INFINITY);
    expect(addScores(INFINITY, 5)).toBe(INFINITY);
    expect(addScores(999_999, 5)).toBe(INFINITY);
    expect(addScores(3, 4)).toBe(7);
    expect(formatScore(addScores(-INFINITY, 10))).toBe('-INFINITY');
  });

  test.each([
    ['true', true],
    ['on', true],
    ['YES', true],
    ['y', true],
    ['1', true],
    ['false', false],
    ['off', false],
    ['no', false],
    ['n', false],
    ['0', false],
  ])('boolean %p', (text, value) => expect(parseBoolean(text, !value)).toBe(value));
});

describe('rules', () => {
  const rule = (xml: string) => readRule(parseXml(xml).root, '/test');

  test('attribute expressions compare as string, integer, number or version', () => {
    const r = rule(`<rule id="r" boolean-op="and">
      <expression id="e1" attribute="#uname" operation="eq" value="node1"/>
      <expression id="e2" attribute="cpus" operation="gte" value="4" type="integer"/>
      <expression id="e3" attribute="ver" operation="gt" value="2.9" type="version"/>
    </rule>`);
    expect(evaluateRule(r, { nodeAttributes: { '#uname': 'node1', cpus: '8', ver: '2.10' } })).toBe(
      true,
    );
    expect(evaluateRule(r, { nodeAttributes: { '#uname': 'node1', cpus: '2', ver: '2.10' } })).toBe(
      false,
    );
    expect(evaluateRule(r, { nodeAttributes: { '#uname': 'node1', cpus: '8', ver: '2.1' } })).toBe(
      false,
    );
  });

  test('defined / not_defined, boolean-op or, nested rules', () => {
    const r = rule(`<rule id="r" boolean-op="or">
      <expression id="e1" attribute="gpu" operation="defined"/>
      <rule id="r2"><expression id="e2" attribute="#kind" operation="eq" value="container"/></rule>
    </rule>`);
    expect(evaluateRule(r, { nodeAttributes: { gpu: 'yes' } })).toBe(true);
    expect(evaluateRule(r, { nodeAttributes: { '#kind': 'container' } })).toBe(true);
    expect(evaluateRule(r, { nodeAttributes: { '#kind': 'cluster' } })).toBe(false);
  });

  test('date expressions: in_range with duration, lt, date_spec', () => {
    const r = rule(
      `<rule id="r"><date_expression id="d" operation="in_range" start="2026-01-01 00:00:00Z"><duration id="du" days="10"/></date_expression></rule>`,
    );
    expect(evaluateRule(r, { now: new Date('2026-01-05T00:00:00Z') })).toBe(true);
    expect(evaluateRule(r, { now: new Date('2026-01-12T00:00:00Z') })).toBe(false);
    const lt = rule(
      `<rule id="r"><date_expression id="d" operation="lt" end="2026-06-01T00:00:00Z"/></rule>`,
    );
    expect(evaluateRule(lt, { now: new Date('2026-05-31T23:00:00Z') })).toBe(true);
    const spec = rule(
      `<rule id="r"><date_expression id="d" operation="date_spec"><date_spec id="s" hours="9-17" weekdays="1-5"/></date_expression></rule>`,
    );
    expect(evaluateRule(spec, { now: new Date('2026-11-25T10:00:00Z') })).toBe(true); // a Wednesday
    expect(evaluateRule(spec, { now: new Date('2026-11-29T10:00:00Z') })).toBe(false); // a Sunday
  });

  test('an unknown operation is an error naming the expression', () => {
    expect(() =>
      rule('<rule id="r"><expression id="e" attribute="a" operation="like" value="x"/></rule>'),
    ).toThrow(/expression\[@id='e'\]: unknown operation 'like'/);
  });
});
