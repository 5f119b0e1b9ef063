/** Cairn's version, as package.json states it (a test keeps the two equal). */
export const CAIRN_VERSION = "0.1.0";
