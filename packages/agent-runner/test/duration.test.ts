import { parseDuration } from '../src';

describe('durations as Pacemaker writes them', () => {
  test.each([
    ['10', 10_000],
    ['10s', 10_000],
    ['500ms', 500],
    ['2min', 120_000],
    ['1h', 3_600_000],
    ['PT20S', 20_000],
    ['P10S', 10_000],
    ['PT1M30S', 90_000],
    ['P1DT1H', 90_000_000],
    ['P2W', 1_209_600_000],
  ])('%p is %d ms', (spec, ms) => expect(parseDuration(spec)).toBe(ms));

  test.each(['', 'soon', '10 parsecs', 'P', 'PT', '-5s'])('%p is not a duration', (spec) => {
    expect(parseDuration(spec)).toBeUndefined();
  });
});
