import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { InvalidInput } from '../../errors.js';
import { pyRepr, pyStr } from './python-repr.js';

/**
 * JSON schema validation (Ajv) with Nova's error messages. Nova runs
 * Python's jsonschema and words the first error as
 * `Invalid input for field/attribute <last path element>. Value: <str of
 * the value>. <jsonschema's message>`, or the bare message at the top
 * level. Clients show these messages to people, so they are kept.
 *
 * NOTE: when a body has several errors, Ajv may report a different one
 * first than jsonschema does (it checks `required` and
 * `additionalProperties` before `properties`).
 */
// strictNumbers: Python reads 1e400 as inf, which is no integer to jsonschema; Ajv's
// integer check alone would let Infinity through.
const ajv = new Ajv({ allErrors: false, strict: false, strictNumbers: true });

/**
 * The number Nova's validator compares with `minimum`/`maximum`
 * (_SchemaValidator._number_from_str): `int()` of the value, else
 * `float()`, else none and the bound does not apply. So the string `"0"`
 * is below a minimum of 1, as the integer 0 is.
 */
function boundedNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^[+-]?\d+$/.test(text)) return Number(text);
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return Number(text);
  return undefined;
}

// Nova's bounds replace jsonschema's (and Ajv's), which look at numbers only.
for (const [keyword, outside] of [
  ['minimum', (n: number, limit: number) => n < limit],
  ['maximum', (n: number, limit: number) => n > limit],
] as const) {
  ajv.removeKeyword(keyword);
  ajv.addKeyword({
    keyword,
    schemaType: 'number',
    errors: true,
    validate: function bound(limit: number, value: unknown): boolean {
      const n = boundedNumber(value);
      if (n === undefined || !outside(n, limit)) return true;
      (bound as { errors?: Partial<ErrorObject>[] }).errors = [
        { keyword, params: { limit, compared: n } },
      ];
      return false;
    },
  });
}
/**
 * Nova's 'name' format (parameter_types.valid_name_regex): characters of the
 * Basic Multilingual Plane that are printable, which Nova takes as no
 * Unicode category C* (control, format, lone surrogate, private use,
 * unassigned) and of the separators only spaces (Zs), with no space at
 * either end. Anything else could not be stored as given (a lone surrogate
 * becomes U+FFFD in UTF-8) or shown back as it was.
 */
const NAME = /^(?!\p{Zs})[^\p{C}\p{Zl}\p{Zp}\u{10000}-\u{10FFFF}]*(?<!\p{Zs})$/u;
ajv.addFormat('name', (value: string) => NAME.test(value));

const INVALID_NAME =
  "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.";

export function compileSchema(schema: object): (body: unknown) => void {
  const validate: ValidateFunction = ajv.compile(schema);
  return (body) => {
    if (validate(body)) return;
    const [error] = validate.errors ?? [];
    if (error) throw new InvalidInput(novaMessage(error, body));
  };
}

/** The value at a JSON pointer, and the path's elements. */
function at(body: unknown, pointer: string): { value: unknown; path: string[] } {
  const path = pointer === '' ? [] : pointer.slice(1).split('/').map(unescape);
  let value = body;
  for (const key of path) value = (value as Record<string, unknown>)[key];
  return { value, path };
}

const unescape = (part: string) => part.replace(/~1/g, '/').replace(/~0/g, '~');

function jsonschemaMessage(error: ErrorObject, value: unknown): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${pyRepr(params.missingProperty)} is a required property`;
    case 'additionalProperties':
      return `Additional properties are not allowed (${pyRepr(params.additionalProperty)} was unexpected)`;
    case 'enum':
      return `${pyRepr(value)} is not one of ${pyRepr(params.allowedValues)}`;
    case 'minItems':
    case 'minLength':
      return `${pyRepr(value)} is too short`;
    case 'maxItems':
    case 'maxLength':
    case 'additionalItems':
      return `${pyRepr(value)} is too long`;
    // jsonschema words the number compared (`'0'` was compared as 0).
    case 'minimum':
      return `${pyRepr(params.compared ?? value)} is less than the minimum of ${pyRepr(params.limit)}`;
    case 'maximum':
      return `${pyRepr(params.compared ?? value)} is greater than the maximum of ${pyRepr(params.limit)}`;
    case 'pattern':
      return `${pyRepr(value)} does not match ${pyRepr(params.pattern)}`;
    case 'uniqueItems':
      return `${pyRepr(value)} has non-unique elements`;
    case 'type': {
      const types = Array.isArray(params.type) ? params.type : [params.type];
      return `${pyRepr(value)} is not of type ${types.map((t) => pyRepr(t)).join(', ')}`;
    }
    default:
      return error.message ?? 'is not valid';
  }
}

function novaMessage(error: ErrorObject, body: unknown): string {
  if (error.keyword === 'format' && (error.params as { format?: string }).format === 'name') {
    return INVALID_NAME;
  }
  const { value, path } = at(body, error.instancePath);
  const message = jsonschemaMessage(error, value);
  const last = path.at(-1);
  if (last === undefined) return message;
  return `Invalid input for field/attribute ${last}. Value: ${pyStr(value)}. ${message}`;
}
