import { MAX_VERSION, MIN_VERSION } from '../versions-table.js';

/** One entry of the version documents, as Nova renders it. */
export interface VersionLink {
  rel: string;
  href: string;
  type?: string;
}

/** `GET /`: the API versions this endpoint serves (v2.0 is announced, as Nova does, but not served). */
export function versionsDocument(baseUrl: string) {
  return {
    versions: [
      {
        id: 'v2.0',
        status: 'SUPPORTED',
        version: '',
        min_version: '',
        updated: '2011-01-21T11:33:21Z',
        links: [{ rel: 'self', href: `${baseUrl}/v2/` }],
      },
      {
        id: 'v2.1',
        status: 'CURRENT',
        version: MAX_VERSION,
        min_version: MIN_VERSION,
        updated: '2013-07-23T11:33:21Z',
        links: [{ rel: 'self', href: `${baseUrl}/v2.1/` }],
      },
    ],
  };
}

/** `GET /v2.1`: the version served here, with its media type. */
export function versionDocument(baseUrl: string) {
  return {
    version: {
      id: 'v2.1',
      status: 'CURRENT',
      version: MAX_VERSION,
      min_version: MIN_VERSION,
      updated: '2013-07-23T11:33:21Z',
      links: [
        { rel: 'self', href: `${baseUrl}/v2.1/` },
        { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
      ],
      'media-types': [
        {
          base: 'application/json',
          type: 'application/vnd.openstack.compute+json;version=2.1',
        },
      ],
    },
  };
}
