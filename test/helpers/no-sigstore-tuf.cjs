/**
 * A `--require` preload for the real npm: its `@sigstore/tuf` answers every
 * target with "not found" (TUF_FIND_TARGET_ERROR), which is exactly what
 * Sigstore's real TUF repository answers for any registry it does not list
 * (every registry but the public npm registry). npm then fetches the keys
 * from the registry's /-/npm/v1/keys, as it would for Cairn anywhere. Needed
 * because npm refreshes the TUF root from the network before it looks for a
 * target, and tests run offline; everything else `npm audit signatures` does
 * (the keys, the packuments, pacote's checks, the output) is npm's own code.
 */
const Module = require("node:module");

const load = Module._load;
Module._load = function loadWithoutSigstoreTuf(request, ...rest) {
  const real = load.call(this, request, ...rest);
  if (request !== "@sigstore/tuf") return real;
  const notFound = async (target) => {
    throw Object.assign(new Error(`target ${target} not found`), {
      code: "TUF_FIND_TARGET_ERROR",
    });
  };
  return { ...real, initTUF: async () => ({ getTarget: notFound }) };
};
