/** Cairn's version, as package.json states it (a test keeps the two equal). */
export const CAIRN_VERSION = "0.1.0";

/** What Cairn's HTTP clients say they are (some CDNs refuse a request that says nothing). */
export const USER_AGENT = `cairn/${CAIRN_VERSION} node/${process.version}`;
