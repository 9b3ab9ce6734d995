import { ConfigError } from '../errors.js';

/** One setting a reference may name: its raw text and where it came from. */
export interface RawSetting {
  readonly value: string;
  readonly origin: string;
}

/**
 * Where a reference finds its value: the setting `[section] name` as the
 * files and the environment give it, else cellgroups' own default for an
 * option it reads, else undefined (nothing anywhere sets it).
 */
export type SettingLookup = (section: string, name: string) => RawSetting | undefined;

/**
 * oslo.config's value template (`string.Template` with its id pattern):
 * `$$` is a dollar sign, `$name` and `${name}` name an option, `${group.name}`
 * an option of another group; a `$` followed by anything else stays as it is.
 */
const TEMPLATE = /\$(?:(\$)|([_a-z][._a-z0-9]*)|\{([_a-z][._a-z0-9]*)\}|)/gi;

/**
 * Expands the references in `setting`, the value of `[section] …`, as
 * oslo.config does before it converts a value: `\$` and `$$` are a dollar
 * sign; `$name` is `[section] name` if set, else `[DEFAULT] name`;
 * `${group.name}` is `[group] name`; an option set to nothing expands to
 * the empty string; references expand recursively. Unlike oslo.config,
 * which knows every option Nova registered and its default, cellgroups
 * knows only what the files and the environment set and the defaults of its
 * own options: a reference to anything else is an error naming it, as is a
 * reference that comes back to itself.
 */
export function interpolate(
  setting: RawSetting,
  section: string,
  lookup: SettingLookup,
  resolving: readonly string[] = [],
): string {
  // oslo.config treats `\$` as the template's `$$`.
  const text = setting.value.replaceAll('\\$', '$$$$');
  return text.replace(
    TEMPLATE,
    (match, dollar: string | undefined, named?: string, braced?: string) => {
      if (dollar !== undefined) return '$';
      const key = named ?? braced;
      if (key === undefined) return match;
      const found = find(key, section, lookup);
      if (!found) {
        throw new ConfigError(
          `${setting.origin}: $${key} names no option set in the configuration files or the environment ` +
            'and none cellgroups has a default for: write the value out, or set that option.',
        );
      }
      if (resolving.includes(found.key)) {
        throw new ConfigError(
          `${setting.origin}: $${key} refers back to itself (${[...resolving, found.key].join(' → ')}).`,
        );
      }
      return interpolate(found.setting, found.section, lookup, [...resolving, found.key]);
    },
  );
}

function find(
  key: string,
  section: string,
  lookup: SettingLookup,
): { setting: RawSetting; section: string; key: string } | undefined {
  const dot = key.indexOf('.');
  const candidates: [string, string][] =
    dot < 0
      ? [
          [section, key],
          ['DEFAULT', key],
        ]
      : [[key.slice(0, dot), key.slice(dot + 1)]];
  for (const [group, name] of candidates) {
    const setting = lookup(group, name);
    if (setting) return { setting, section: group, key: `[${group}] ${name}` };
  }
  return undefined;
}
