/**
 * CELLGROUPS_REQUIRE_ENGINES (CI sets it to `all`) lists what must be
 * there: a server that does not answer, or a Galera cluster that cannot
 * start, is then a failure instead of a skip notice.
 */
const ALL = ['sqlite', 'postgresql', 'mysql', 'galera'] as const;

export function requiredEngines(): Set<string> {
  const value = process.env.CELLGROUPS_REQUIRE_ENGINES ?? '';
  const names = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (names.includes('all')) return new Set(ALL);
  // Accept the names people use for the engines, not only ours.
  return new Set(
    names.map((n) => (n === 'mariadb' ? 'mysql' : n === 'postgres' ? 'postgresql' : n)),
  );
}
