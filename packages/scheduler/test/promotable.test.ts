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
