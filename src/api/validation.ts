import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { InvalidInput } from '../errors.js';
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
const ajv = new Ajv({ allErrors: false, strict: false });
// Nova's 'name' format: printable, and no whitespace at either end.
ajv.addFormat('name', (value: string) => /^\S(.*\S)?$/su.test(value) && !/[\p{Cc}]/u.test(value));

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
    case 'minimum':
      return `${pyRepr(value)} is less than the minimum of ${pyRepr(params.limit)}`;
    case 'maximum':
      return `${pyRepr(value)} is greater than the maximum of ${pyRepr(params.limit)}`;
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
