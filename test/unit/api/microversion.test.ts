import { describe, expect, it } from 'vitest';
import {
  ApiVersion,
  negotiate,
  requestedVersion,
  versionHeaders,
} from '../../../src/api/http/microversion.js';
import { InvalidInput, VersionNotAcceptable } from '../../../src/errors.js';
import { readSample, sampleFiles } from '../../support/samples.js';

describe('microversions', () => {
  it('orders versions numerically', () => {
    expect(ApiVersion.parse('2.10').compare(ApiVersion.parse('2.9'))).toBeGreaterThan(0);
    expect(ApiVersion.parse('2.64').atLeast('2.64')).toBe(true);
    expect(ApiVersion.parse('2.63').atLeast('2.64')).toBe(false);
  });

  it("refuses what Nova's pattern refuses, with Nova's message", () => {
    for (const bad of ['2', '2.', '02.1', '2.01', 'a.b', '2.1.1', ' 2.1', '']) {
      expect(() => ApiVersion.parse(bad), bad).toThrow(InvalidInput);
    }
    expect(() => ApiVersion.parse('2.x')).toThrow(
      'API Version String 2.x is of invalid format. Must be of format MajorNum.MinorNum.',
    );
  });

  it('reads the standard header first, then the legacy one; other services are ignored', () => {
    expect(requestedVersion({})).toBeUndefined();
    expect(requestedVersion({ 'openstack-api-version': 'compute 2.64' })).toBe('2.64');
    expect(requestedVersion({ 'openstack-api-version': 'identity 3, COMPUTE 2.5' })).toBe('2.5');
    expect(requestedVersion({ 'openstack-api-version': ['identity 3', 'compute 2.7'] })).toBe(
      '2.7',
    );
    expect(requestedVersion({ 'x-openstack-nova-api-version': '2.13' })).toBe('2.13');
    expect(
      requestedVersion({
        'openstack-api-version': 'compute 2.64',
        'x-openstack-nova-api-version': '2.13',
      }),
    ).toBe('2.64');
    expect(
      requestedVersion({
        'openstack-api-version': 'identity 3',
        'x-openstack-nova-api-version': '2.13',
      }),
    ).toBe('2.13');
  });

  it('negotiates: none is 2.1, latest the maximum, out of range 406', () => {
    expect(negotiate({}).toString()).toBe('2.1');
    expect(negotiate({ 'openstack-api-version': 'compute latest' }).toString()).toBe('2.93');
    expect(negotiate({ 'openstack-api-version': 'compute 2.75' }).toString()).toBe('2.75');
    expect(() => negotiate({ 'openstack-api-version': 'compute 2.94' })).toThrow(
      VersionNotAcceptable,
    );
    expect(() => negotiate({ 'openstack-api-version': 'compute 3.0' })).toThrow(
      'Version 3.0 is not supported by the API. Minimum is 2.1 and maximum is 2.93.',
    );
  });

  it('answers the captured samples: the refusals word for word, the echo header for header', () => {
    for (const file of sampleFiles()) {
      const sample = readSample(file);
      const headers = Object.fromEntries(
        sample.request.headers.map(([k, v]) => [k.toLowerCase(), v]),
      );
      const body = sample.body as { computeFault?: { message: string } } | null;
      if (sample.status === 406) {
        expect(() => negotiate(headers), file).toThrow(body?.computeFault?.message ?? '?');
        continue;
      }
      const echoed = sample.headers.filter(([k]) =>
        ['openstack-api-version', 'x-openstack-nova-api-version', 'vary'].includes(k.toLowerCase()),
      );
      if (echoed.length === 0) continue;
      expect(versionHeaders(negotiate(headers).toString()), file).toEqual(echoed);
    }
  });
});
