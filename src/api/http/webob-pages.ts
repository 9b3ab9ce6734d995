import type { IncomingMessage } from 'node:http';

/** A page and its content type. */
export interface Page {
  readonly contentType: string;
  readonly body: string;
}

/** One of webob's HTTP exceptions: what its pages say. */
export interface WebobError {
  /** `404 Not Found`. */
  readonly status: string;
  /** `Not Found`. */
  readonly title: string;
  readonly explanation: string;
  readonly detail: string;
}

/** webob's HTTPNotFound: Nova's router answers it for a path or method it has no route for. */
export const NOT_FOUND: WebobError = {
  status: '404 Not Found',
  title: 'Not Found',
  explanation: 'The resource could not be found.',
  detail: '',
};

/** keystonemiddleware's answer when Keystone cannot validate a token. */
export const KEYSTONE_UNAVAILABLE: WebobError = {
  status: '503 Service Unavailable',
  title: 'Service Unavailable',
  explanation: 'The server is currently unavailable. Please try again at a later time.',
  detail: 'The Keystone service is temporarily unavailable.',
};

/** One media range of an Accept header: `type/subtype` and parameters (RFC 7231 tokens). */
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_RANGE = new RegExp(
  `^\\s*(${TOKEN})/(${TOKEN})\\s*((?:;\\s*${TOKEN}\\s*=\\s*(?:${TOKEN}|"[^"]*")\\s*)*)$`,
);
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  /** Parameters other than q: such a range matches only an offer with the same ones (none here). */
  readonly params: boolean;
  readonly q: number;
}

/** The ranges of an Accept header, or undefined when webob would find it invalid. */
function parseAccept(header: string): MediaRange[] | undefined {
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    if (part.trim() === '') continue;
    const match = MEDIA_RANGE.exec(part);
    if (!match) return undefined;
    let q = 1;
    let params = false;
    for (const param of (match[3] ?? '').split(';').slice(1)) {
      const [name = '', value = ''] = param.split('=').map((x) => x.trim());
      if (name.toLowerCase() !== 'q') params = true;
      else if (QVALUE.test(value)) q = Number(value);
      else return undefined;
    }
    ranges.push({
      type: (match[1] ?? '').toLowerCase(),
      subtype: (match[2] ?? '').toLowerCase(),
      params,
      q,
    });
  }
  return ranges.length > 0 ? ranges : undefined;
}

/** An offer's quality: the q of the most specific range that matches it (0: none does). */
function quality(offer: string, ranges: readonly MediaRange[]): number {
  const [type, subtype] = offer.split('/');
  let best = { specificity: 0, q: 0 };
  for (const range of ranges) {
    const specificity =
      range.type === '*' && range.subtype === '*'
        ? 1
        : range.type === type && range.subtype === '*'
          ? 2
          : range.type === type && range.subtype === subtype && !range.params
            ? 3
            : 0;
    if (specificity > best.specificity) best = { specificity, q: range.q };
  }
  return best.q;
}

/**
 * webob's choice among the offers: the highest quality above 0, the first
 * offered on a tie; a header it cannot parse accepts every offer (the first).
 */
function choose(header: string, offers: readonly string[]): string | undefined {
  const ranges = parseAccept(header);
  if (!ranges) return offers[0];
  let chosen: { offer: string; q: number } | undefined;
  for (const offer of offers) {
    const q = quality(offer, ranges);
    if (q > 0 && (!chosen || q > chosen.q)) chosen = { offer, q };
  }
  return chosen?.offer;
}

/**
 * The page a webob HTTP exception renders (webob 1.8, as Nova 26 runs it), in
 * the form it chooses from the request's Accept header, byte for byte:
 * - HTML or JSON (`{"message", "code", "title"}`, with Python's json.dumps
 *   separators) when the client accepts either: the better one, HTML on a tie;
 * - plain text when it accepts neither, and when there is no Accept header
 *   (webob reads a missing header as an empty one);
 * - HTML when the header does not parse (webob then accepts anything);
 * - for a HEAD, the HTML page's headers.
 *
 * Written here rather than with a negotiation library: webob breaks ties by
 * the order of its offers, where `negotiator` (say) prefers the header's
 * order, and webob refuses a header whole when one range is malformed.
 */
export function webobPage(request: IncomingMessage, error: WebobError): Page {
  const { status, title, explanation, detail } = error;
  const html: Page = {
    contentType: 'text/html; charset=UTF-8',
    body:
      `<html>\n <head>\n  <title>${status}</title>\n </head>\n <body>\n  <h1>${status}</h1>\n` +
      `  ${explanation}<br /><br />\n${detail}\n\n\n </body>\n</html>`,
  };
  const plain: Page = {
    contentType: 'text/plain; charset=UTF-8',
    body: `${status}\n\n${explanation}\n\n ${detail}  `,
  };
  if (request.method === 'HEAD') return html;
  const accept = request.headers.accept;
  // webob reads a missing header as an empty one, which accepts nothing.
  if (accept === undefined || accept === '') return plain;
  const best = choose(accept, ['text/html', 'application/json']);
  if (best === 'text/html') return html;
  if (best !== 'application/json') return plain;
  const text = (value: string) => JSON.stringify(value);
  const message = `${explanation}<br /><br />\n${detail}\n\n`;
  return {
    contentType: 'application/json',
    // Python's json.dumps: a space after each separator.
    body: `{"message": ${text(message)}, "code": ${text(status)}, "title": ${text(title)}}`,
  };
}
