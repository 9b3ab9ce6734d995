import { describe, expect, it } from 'vitest';
import { ApiVersion, MAX, MIN } from '../../../src/api/http/microversion.js';
import { versionDocument } from '../../../src/api/views/versions.js';
import { MAX_VERSION, MIN_VERSION, MV, VERSIONS } from '../../../src/api/versions-table.js';

describe('the microversion table', () => {
  it('lists each version once, oldest first, each saying what it changed', () => {
    const parsed = VERSIONS.map((v) => ApiVersion.parse(v.version));
    parsed.slice(1).forEach((version, i) => {
      expect(version.compare(parsed[i] ?? MIN), version.toString()).toBeGreaterThan(0);
    });
    for (const { changes } of VERSIONS) expect(changes.length).toBeGreaterThan(10);
  });

  it('bounds what is negotiated and what discovery announces', () => {
    expect(MIN.toString()).toBe(MIN_VERSION);
    expect(MAX.toString()).toBe(MAX_VERSION);
    expect(MAX_VERSION).toBe(VERSIONS.at(-1)?.version);
    const { version } = versionDocument('http://x');
    expect([version.min_version, version.version]).toEqual([MIN_VERSION, MAX_VERSION]);
  });

  it('names only versions of the table', () => {
    const listed = new Set<string>(VERSIONS.map((v) => v.version));
    for (const [name, version] of Object.entries(MV)) expect(listed.has(version), name).toBe(true);
  });
});
