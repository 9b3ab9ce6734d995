/**
 * The compute API microversions this server speaks. Version discovery
 * announces this range; negotiation and the per-version behaviour of
 * os-server-groups build on it.
 */
export const MIN_VERSION = '2.1';

/**
 * The newest microversion of the Nova release the captured samples come
 * from (Zed). Nothing between 2.75 and 2.93 changed os-server-groups, so a
 * client negotiating any of them gets the same server-group behaviour.
 */
export const MAX_VERSION = '2.93';
