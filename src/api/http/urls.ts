/**
 * Request paths as Nova's WSGI stack reads them. Python's `unquote` never
 * refuses a path: a `%` that starts no escape stays a `%`, and escaped
 * bytes that are not UTF-8 become U+FFFD. Fastify's router refuses both
 * with a 400 of its own shape, so the path is rewritten before routing
 * into one that decodes to what Nova would have seen: `/os-server-groups/%zz`
 * is then the group `%zz`, not found, as in Nova.
 */
export function lenientUrl(url: string): string {
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  const rest = query < 0 ? '' : url.slice(query);
  const fixed = path.replace(/(?:%[0-9A-Fa-f]{2})+|%/g, (run) => {
    if (run === '%') return '%25';
    try {
      decodeURIComponent(run);
      return run;
    } catch {
      const bytes = Buffer.from(run.replace(/%/g, ''), 'hex');
      return encodeURIComponent(bytes.toString('utf8'));
    }
  });
  return fixed + rest;
}
