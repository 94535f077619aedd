import { describe, expect, it } from 'vitest';
import { expandHostSpec, HostSpecError, MAX_RANGE_HOSTS } from '../../../src/master/cluster/host-ranges.js';

describe('expandHostSpec', () => {
  it('keeps a plain host name', () => {
    expect(expandHostSpec('node1')).toEqual(['node1']);
    expect(expandHostSpec('  node1 ')).toEqual(['node1']);
    expect(expandHostSpec('127.0.0.2')).toEqual(['127.0.0.2']);
  });

  it('expands a zero-padded range to the width of the end number', () => {
    expect(expandHostSpec('nx01:03')).toEqual(['nx01', 'nx02', 'nx03']);
    expect(expandHostSpec('nx08:10')).toEqual(['nx08', 'nx09', 'nx10']);
    expect(expandHostSpec('nx01:30')).toHaveLength(30);
    expect(expandHostSpec('nx01:30').at(-1)).toBe('nx30');
    // The start number is the last len(end) characters, as in disco_config:expand_range/2.
    expect(expandHostSpec('nx1:3')).toEqual(['nx1', 'nx2', 'nx3']);
    expect(expandHostSpec('n001:003')).toEqual(['n001', 'n002', 'n003']);
  });

  it('reads host:port as one host when it is not a range', () => {
    expect(expandHostSpec('localhost:9001')).toEqual(['localhost:9001']);
    expect(expandHostSpec('127.0.0.1:9001')).toEqual(['127.0.0.1:9001']);
    expect(expandHostSpec('node1:9001')).toEqual(['node1:9001']);
  });

  it('refuses invalid specs', () => {
    for (const bad of ['', 'a:b', 'nx05:01', 'a:1:2', ':3', 'x/y', 'bad host']) {
      expect(() => expandHostSpec(bad), bad).toThrow(HostSpecError);
    }
  });

  it('refuses ranges that are too large', () => {
    expect(() => expandHostSpec('n000000:999999')).toThrow(`more than ${MAX_RANGE_HOSTS}`);
  });
});
